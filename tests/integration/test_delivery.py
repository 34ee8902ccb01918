#!/usr/bin/env python3
"""Integration tests of report delivery (DESIGN.md §4 wire, §5 time, §6
database, §7 command) against a local receiver (receiver.py).

Each case crashes progs/timed_null (a NULL write three calls deep that prints
CLOCK_MONOTONIC just before it faults) under LD_PRELOAD=libbtcrash.so with
BACKTRACE_ENDPOINT pointing at the receiver, or runs the `btcrash` command,
and checks what the receiver got, byte for byte, what the crash database
holds, how fast the crashed process died and what it died of.

All failures of a case are collected and printed, then the exit status is 1.
Every subprocess has a timeout: a hang fails the case instead of blocking.
Python 3 standard library only.

Usage: test_delivery.py --lib L --helper H --progs DIR --src DIR CASE
       test_delivery.py ... --list
"""

import argparse
import json
import os
import re
import select
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import time
from urllib.parse import quote, unquote

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import receiver as rxmod  # noqa: E402
from run_crash import Checker, _child_setup, _group_alive, base_env  # noqa: E402

PROG = "timed_null"
RUN_TIMEOUT = 30      # any one run of a program or of the command
GRACE_S = 0.5         # DESIGN §1: dead no later than timeout + 0.5 s
HELPER_LINGER_S = 1.0  # after the deadline, how long a helper may still be seen
DEFAULT_TIMEOUT_S = 4.0
UUID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
ANSI_RE = re.compile(r"\x1b\[[0-9;]*m")


class HarnessError(Exception):
    pass


# ---------------------------------------------------------------------------
# Running things


class Proc:
    def __init__(self, argv, status, stdout, stderr, start_mono, death_mono, pid, lingering):
        self.argv = argv
        self.status = status
        self.stdout = stdout
        self.stderr = stderr
        self.start_mono = start_mono
        self.death_mono = death_mono
        self.pid = pid
        self.lingering = lingering

    @property
    def out(self):
        return self.stdout.decode("utf-8", "replace")

    @property
    def err(self):
        return self.stderr.decode("utf-8", "replace")

    @property
    def signaled(self):
        return os.WIFSIGNALED(self.status)

    @property
    def termsig(self):
        return os.WTERMSIG(self.status) if os.WIFSIGNALED(self.status) else None

    @property
    def exitcode(self):
        return os.WEXITSTATUS(self.status) if os.WIFEXITED(self.status) else None

    def describe(self):
        if os.WIFSIGNALED(self.status):
            return "killed by %s%s" % (signal.Signals(os.WTERMSIG(self.status)).name,
                                       " (core dumped)" if os.WCOREDUMP(self.status) else "")
        return "exited %d" % os.WEXITSTATUS(self.status)

    def fault_mono(self):
        """CLOCK_MONOTONIC (s) that timed_null printed just before its fault."""
        m = re.search(rb"^FAULT_MONO_NS (\d+)$", self.stderr, re.M)
        return int(m.group(1)) / 1e9 if m else None

    def fault_real(self):
        m = re.search(rb"^FAULT_REAL_NS (\d+)$", self.stderr, re.M)
        return int(m.group(1)) / 1e9 if m else None


def run(argv, env, cwd, timeout=RUN_TIMEOUT, linger_wait=5.0):
    """Runs @argv in its own session and process group. The moment of death
    is taken from a pidfd (no polling delay). Raises HarnessError on a hang
    (after killing the group)."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        t0 = time.monotonic()
        p = subprocess.Popen(argv, env=env, cwd=cwd, stdin=subprocess.DEVNULL, stdout=out,
                             stderr=err, preexec_fn=_child_setup, start_new_session=True)
        pidfd = os.pidfd_open(p.pid)
        try:
            ready, _, _ = select.select([pidfd], [], [], timeout)
            death = time.monotonic()
            if not ready:
                os.killpg(p.pid, signal.SIGKILL)
                os.waitpid(p.pid, 0)
                p.returncode = -9
                err.seek(0)
                raise HarnessError("HANG: %s did not finish within %d s (killed)\n--- stderr:\n%s"
                                   % (" ".join(argv), timeout,
                                      err.read().decode("utf-8", "replace")[-3000:]))
        finally:
            os.close(pidfd)
        _, status = os.waitpid(p.pid, 0)
        p.returncode = -1
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
        return Proc(argv, status, out.read(), err.read(), t0, death, p.pid, lingering)


def _proc_state(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            s = f.read()
    except OSError:
        return None
    return s[s.rfind(")") + 2:].split()[0]


def pid_alive(pid):
    st = _proc_state(pid)
    return st is not None and st not in ("Z", "X")


def helpers_of(db, marker=b"__crash-helper"):
    """Live processes whose argv contains @marker and whose environment has
    BACKTRACE_DATABASE_PATH=@db: the helpers working for this test."""
    want = b"BACKTRACE_DATABASE_PATH=" + db.encode()
    found = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        pid = int(d)
        try:
            with open("/proc/%d/cmdline" % pid, "rb") as f:
                cmd = f.read()
            if marker not in cmd:
                continue
            with open("/proc/%d/environ" % pid, "rb") as f:
                env = f.read().split(b"\0")
        except OSError:
            continue
        if want in env and pid_alive(pid):
            found.append(pid)
    return found


# ---------------------------------------------------------------------------
# The crash database


class Report:
    def __init__(self, db, uuid):
        self.db = db
        self.uuid = uuid
        self.json_path = os.path.join(db, uuid + ".json")
        self.state_path = os.path.join(db, uuid + ".state")
        with open(self.json_path, "rb") as f:
            self.raw = f.read()
        try:
            self.report = json.loads(self.raw)
        except ValueError as e:
            raise HarnessError("%s is not JSON: %s" % (self.json_path, e))
        self.state = None
        self.state_raw = None
        if os.path.exists(self.state_path):
            with open(self.state_path, "rb") as f:
                self.state_raw = f.read()
            try:
                self.state = json.loads(self.state_raw)
            except ValueError:
                self.state = {"__unparseable__": self.state_raw.decode("utf-8", "replace")}

    @property
    def state_name(self):
        if self.state is None:
            return "pending"  # db.h: a report without a state file is pending
        return self.state.get("state")

    def __repr__(self):
        return "<report %s %s>" % (self.uuid, json.dumps(self.state))


def reports(db):
    """uuid -> Report for every <uuid>.json in @db, by the report's timestamp."""
    out = {}
    if not os.path.isdir(db):
        return out
    for name in sorted(os.listdir(db)):
        if name.startswith(".") or not name.endswith(".json"):
            continue
        uuid = name[:-5]
        out[uuid] = Report(db, uuid)
    return dict(sorted(out.items(), key=lambda kv: (kv[1].report.get("timestamp", 0), kv[0])))


def all_files(root):
    for dirpath, dirnames, filenames in os.walk(root):
        for n in dirnames + filenames:
            yield os.path.join(dirpath, n)


# ---------------------------------------------------------------------------
# The test context


class T:
    def __init__(self, args, case):
        self.a = args
        self.case = case
        self.c = Checker()
        self.tmp = tempfile.mkdtemp(prefix="btcrash-deliv-%s-" % case)
        self.lib = os.path.abspath(args.lib)
        self.helper = os.path.abspath(args.helper)
        self.progs = os.path.abspath(args.progs)
        self.src = os.path.abspath(args.src)
        self.exe = os.path.join(self.progs, PROG)
        self.receivers = []
        self.evidence = []
        self.n = 0

    # -- bookkeeping
    def say(self, msg):
        print(msg, flush=True)
        self.evidence.append(msg)

    def path(self, *parts):
        p = os.path.join(self.tmp, *parts)
        return p

    def newdir(self, name):
        self.n += 1
        p = self.path("%s-%d" % (name, self.n))
        os.makedirs(p)
        return p

    def receiver(self, mode="ok", tls=False, delay=0.0):
        rx = rxmod.Receiver(mode=mode, tls=tls, delay=delay).start()
        self.receivers.append(rx)
        return rx

    def close(self):
        for rx in self.receivers:
            rx.stop()

    # -- environments
    def env(self, db, **extra):
        env = base_env()
        env["BACKTRACE_DATABASE_PATH"] = db
        for k, v in extra.items():
            if v is None:
                env.pop(k, None)
            else:
                env[k] = v
        return env

    # -- runs
    def crash(self, db, timeout_s=DEFAULT_TIMEOUT_S, what="crash", expect_sig=signal.SIGSEGV,
              wait_helper=True, **env_extra):
        """Crashes timed_null under the library with @env_extra; checks the
        fate (SIGSEGV) and the time bound; waits for the helper to finish."""
        env = self.env(db, LD_PRELOAD=self.lib, **env_extra)
        if timeout_s != DEFAULT_TIMEOUT_S:
            env["BACKTRACE_TIMEOUT"] = ("%g" % timeout_s)
        cwd = self.newdir("cwd")
        r = run([self.exe], env, cwd)
        fault = r.fault_mono()
        took = None if fault is None else r.death_mono - fault
        self.say("%s: %s; fault -> death %s (bound %.1f s)" % (
            what, r.describe(), "?" if took is None else "%.3f s" % took, timeout_s + GRACE_S))
        if self.a.verbose:
            print("--- stderr of %s:\n%s" % (what, r.err))
        self.c.check(fault is not None, "%s: timed_null printed no FAULT_MONO_NS; stderr:\n%s"
                     % (what, r.err[-2000:]))
        if expect_sig is not None:
            self.c.check(r.termsig == expect_sig,
                         "%s: the crashed program %s, expected killed by %s (as without "
                         "btcrash)\n--- stderr:\n%s" % (what, r.describe(),
                                                        signal.Signals(expect_sig).name,
                                                        r.err[-2500:]))
        if took is not None:
            self.c.check(took <= timeout_s + GRACE_S,
                         "%s: the crashed process died %.3f s after the fault; DESIGN §1/§5 "
                         "bound is BACKTRACE_TIMEOUT %.1f s + 0.5 s = %.1f s" % (
                             what, took, timeout_s, timeout_s + GRACE_S))
        self.c.check(not r.lingering, "%s: processes of the crashed program's group still alive "
                     "5 s after it died: %r" % (what, r.lingering))
        r.took = took
        if wait_helper and fault is not None:
            self.wait_helpers(db, fault + timeout_s, what)
        return r

    def wait_helpers(self, db, deadline_mono, what):
        """Waits for the helpers of @db to exit. One still alive
        HELPER_LINGER_S after the crash's deadline is a failure (it must not
        go on submitting past BACKTRACE_TIMEOUT); it is then killed."""
        limit = deadline_mono + HELPER_LINGER_S
        while True:
            alive = helpers_of(db)
            if not alive:
                return
            if time.monotonic() > limit:
                self.c.fail("%s: helper process(es) %r still running %.1f s after the "
                            "BACKTRACE_TIMEOUT deadline (DESIGN §5: submission gets what is "
                            "left of the timeout)" % (what, alive, HELPER_LINGER_S))
                for pid in alive:
                    try:
                        os.kill(pid, signal.SIGKILL)
                    except OSError:
                        pass
                return
            time.sleep(0.02)

    def cmd(self, args, db, timeout=RUN_TIMEOUT, **env_extra):
        """Runs `btcrash ARGS` (no LD_PRELOAD)."""
        env = self.env(db, **env_extra)
        r = run([self.helper] + list(args), env, self.newdir("cmd"), timeout=timeout)
        self.say("btcrash %s: %s" % (" ".join(args), r.describe()))
        if self.a.verbose:
            print("--- stdout:\n%s--- stderr:\n%s" % (r.out, r.err))
        return r

    # -- checks
    def one_new_report(self, db, before, what):
        now = reports(db)
        new = [u for u in now if u not in before]
        if not self.c.check(len(new) == 1, "%s: expected exactly one new report in %s, found %r "
                            "(files: %r)" % (what, db, new, sorted(os.listdir(db))
                                             if os.path.isdir(db) else "no directory")):
            return None
        return now[new[0]]

    def check_state(self, rep, state, what, status=None, rxid=None):
        if rep is None:
            return
        st = rep.state or {}
        self.c.eq(rep.state_name, state, "%s: state of %s (state file %s)" % (
            what, rep.uuid, rep.state_raw))
        if status is not None:
            self.c.eq(st.get("http_status"), status, "%s: http_status in %s.state (%s)" % (
                what, rep.uuid, rep.state_raw))
        if rxid is not None:
            self.c.eq(st.get("rxid"), rxid, "%s: rxid in %s.state" % (what, rep.uuid))
        if state == "pending":
            self.c.check(isinstance(st.get("attempts"), int) and st["attempts"] >= 1,
                         "%s: a pending report after a failed attempt counts attempts >= 1; "
                         "state: %s" % (what, rep.state_raw))
            self.c.check(isinstance(st.get("last_error"), str) and st["last_error"],
                         "%s: a pending report after a failed attempt keeps last_error; state: "
                         "%s" % (what, rep.state_raw))

    def upload_of(self, req, what):
        """The upload_file part of @req, or None (failures recorded)."""
        try:
            parts = req.multipart()
        except ValueError as e:
            self.c.fail("%s: the body is not valid multipart/form-data: %s (Content-Type %r)"
                        % (what, e, req.header("Content-Type")))
            return None
        ups = [p for p in parts if p.name == "upload_file"]
        if not self.c.check(len(ups) == 1, "%s: expected one upload_file part, parts: %r"
                            % (what, parts)):
            return None
        return ups[0]

    def check_request_is(self, req, rep, what):
        """@req carries @rep's stored JSON, byte for byte."""
        self.c.eq(req.method, "POST", "%s: method" % what)
        up = self.upload_of(req, what)
        if up is not None and rep is not None:
            if up.data != rep.raw:
                self.c.fail("%s: upload_file part (%d bytes) differs from the stored %s (%d "
                            "bytes); first difference at byte %d" % (
                                what, len(up.data), rep.json_path, len(rep.raw),
                                next((i for i, (x, y) in enumerate(zip(up.data, rep.raw))
                                      if x != y), min(len(up.data), len(rep.raw)))))

    def finish(self):
        for n in self.c.notes:
            print("note: " + n)
        if self.c.failures:
            print("\n%d FAILURE(S):" % len(self.c.failures))
            for i, f in enumerate(self.c.failures, 1):
                print("%d. %s" % (i, f))
            return 1
        print("PASS")
        return 0


# ---------------------------------------------------------------------------
# Cases: URL rules (DESIGN §4)

TOKEN_ODD = "s3cr3t/tok+en &=?%#~\u00e9!"
UNRESERVED = re.compile(r"^(?:[A-Za-z0-9\-._~]|%[0-9A-Fa-f]{2})*$")


def case_url_token(t):
    """Token set, endpoint http://127.0.0.1:PORT: POST /post?token=<enc>&format=json."""
    rx = t.receiver("ok")
    db = t.path("db")
    r = t.crash(db, BACKTRACE_ENDPOINT=rx.url, BACKTRACE_TOKEN=TOKEN_ODD)
    reqs = rx.snapshot()
    t.say("receiver got: %r" % reqs)
    if not t.c.check(len(reqs) == 1, "expected exactly 1 request, got %r\n--- stderr:\n%s"
                     % (reqs, r.err[-2000:])):
        return
    q = reqs[0]
    t.c.eq(q.method, "POST", "method")
    t.c.eq(q.url_path, "/post", "request path (ENDPOINT/post)")
    raw = q.raw_query
    pairs = [p.split("=", 1) for p in raw.split("&")]
    names = [p[0] for p in pairs]
    t.c.eq(sorted(names), ["format", "token"], "query parameter names of %r" % raw)
    vals = {p[0]: (p[1] if len(p) > 1 else None) for p in pairs}
    t.c.eq(vals.get("format"), "json", "format parameter")
    enc = vals.get("token")
    if t.c.check(enc is not None, "no token parameter in %r" % raw):
        t.c.check(UNRESERVED.match(enc), "the token is not fully URL-encoded in the query: %r "
                  "(characters other than unreserved ones must be %%XX)" % enc)
        t.c.eq(unquote(enc, encoding="utf-8", errors="strict"), TOKEN_ODD,
               "the token decoded from the query")
    t.c.eq(q.query.get("token"), [TOKEN_ODD], "token as a form decoder (parse_qs) reads it")
    t.c.check(raw.startswith("token="), "query order: expected token=...&format=json, got %r"
              % raw)
    rep = t.one_new_report(db, {}, "token crash")
    t.check_state(rep, "sent", "token crash", rxid=q.rxid)
    t.check_request_is(q, rep, "token crash")


def case_url_trailing_slash(t):
    """A trailing '/' on the endpoint is not doubled: /post, not //post."""
    rx = t.receiver("ok")
    db = t.path("db")
    r = t.crash(db, BACKTRACE_ENDPOINT=rx.url + "/", BACKTRACE_TOKEN="abc123")
    reqs = rx.snapshot()
    t.say("receiver got: %r" % reqs)
    if t.c.check(len(reqs) == 1, "expected 1 request, got %r\n%s" % (reqs, r.err[-1500:])):
        t.c.eq(reqs[0].path, "/post?token=abc123&format=json", "path with ENDPOINT ending in /")
    rx2 = t.receiver("ok")
    db2 = t.path("db2")
    t.crash(db2, BACKTRACE_ENDPOINT=rx2.url + "/api/v1/", BACKTRACE_TOKEN="abc123",
            what="crash with a path prefix")
    reqs = rx2.snapshot()
    t.say("receiver got: %r" % reqs)
    if t.c.check(len(reqs) == 1, "expected 1 request, got %r" % reqs):
        t.c.eq(reqs[0].path, "/api/v1/post?token=abc123&format=json",
               "path with ENDPOINT=.../api/v1/")


def case_url_plain(t):
    """No token: the endpoint is used as it is, its own path."""
    rx = t.receiver("ok")
    db = t.path("db")
    r = t.crash(db, BACKTRACE_ENDPOINT=rx.url + "/custom/path")
    reqs = rx.snapshot()
    t.say("receiver got: %r" % reqs)
    if not t.c.check(len(reqs) == 1, "expected 1 request, got %r\n%s" % (reqs, r.err[-1500:])):
        return
    t.c.eq(reqs[0].method, "POST", "method")
    t.c.eq(reqs[0].path, "/custom/path", "path+query of a token-less endpoint")
    rep = t.one_new_report(db, {}, "plain crash")
    t.check_state(rep, "sent", "plain crash", rxid=reqs[0].rxid)
    t.check_request_is(reqs[0], rep, "plain crash")


def case_url_submit_io(t):
    """An endpoint containing submit.backtrace.io is used as given, even with a
    token set (the receiver is local; the name is in the path)."""
    rx = t.receiver("ok")
    db = t.path("db")
    ep = rx.url + "/submit.backtrace.io/myuniverse/0123abcd/json"
    r = t.crash(db, BACKTRACE_ENDPOINT=ep, BACKTRACE_TOKEN="othertoken")
    reqs = rx.snapshot()
    t.say("receiver got: %r" % reqs)
    if t.c.check(len(reqs) == 1, "expected 1 request, got %r\n%s" % (reqs, r.err[-1500:])):
        t.c.eq(reqs[0].path, "/submit.backtrace.io/myuniverse/0123abcd/json",
               "path+query for a submit.backtrace.io endpoint (used as given)")
        rep = t.one_new_report(db, {}, "submit.backtrace.io crash")
        t.check_state(rep, "sent", "submit.backtrace.io crash", rxid=reqs[0].rxid)


# ---------------------------------------------------------------------------
# Multipart layout


def case_multipart(t):
    d1 = t.newdir("att1")
    d2 = t.newdir("att2")
    a_txt = os.path.join(d1, "a.txt")
    b_bin = os.path.join(d1, "b.bin")
    dup = os.path.join(d2, "a.txt")
    missing = os.path.join(d2, "missing.log")
    a_data = b"first attachment\nline two\n"
    # Every byte value, CRLFs and things that look like a boundary.
    b_data = bytes(range(256)) + b"\r\n--\r\n--boundary\r\n\r\n" + bytes(range(255, -1, -1))
    with open(a_txt, "wb") as f:
        f.write(a_data)
    with open(b_bin, "wb") as f:
        f.write(b_data)
    with open(dup, "wb") as f:
        f.write(b"DUPLICATE BASENAME: must not be sent\n")
    atts = ":".join([a_txt, b_bin, dup, missing])
    rx = t.receiver("ok")
    db = t.path("db")
    r = t.crash(db, BACKTRACE_ENDPOINT=rx.url, BACKTRACE_TOKEN="tok", BACKTRACE_ATTACHMENTS=atts)
    reqs = rx.snapshot()
    t.say("receiver got: %r" % reqs)
    if not t.c.check(len(reqs) == 1, "expected 1 request, got %r\n%s" % (reqs, r.err[-1500:])):
        return
    q = reqs[0]
    ctype = q.header("Content-Type") or ""
    t.c.check(ctype.lower().startswith("multipart/form-data"),
              "Content-Type is %r, expected multipart/form-data" % ctype)
    try:
        parts = q.multipart()
    except ValueError as e:
        t.c.fail("the body is not valid multipart: %s" % e)
        return
    t.say("parts: %r" % parts)
    for p in parts:
        t.say("  part headers: %r" % p.headers)
    names = [p.name for p in parts]
    t.c.eq(sorted(names), sorted(["upload_file", "attachment_a.txt", "attachment_b.bin"]),
           "part names (upload_file, one per attachment basename; duplicate and missing "
           "skipped)")
    t.c.check(names and names[0] == "upload_file", "the first part must be upload_file, got "
              "%r" % names)
    rep = t.one_new_report(db, {}, "multipart crash")
    by = {p.name: p for p in parts}
    if "upload_file" in by:
        up = by["upload_file"]
        t.c.eq(up.filename, "upload_file", 'upload_file part filename')
        t.c.eq(up.disposition, "form-data", "upload_file Content-Disposition")
        if rep is not None:
            t.c.check(up.data == rep.raw, "upload_file part (%d bytes) != stored %s.json (%d "
                      "bytes)" % (len(up.data), rep.uuid, len(rep.raw)))
    for name, data in (("attachment_a.txt", a_data), ("attachment_b.bin", b_data)):
        p = by.get(name)
        if p is None:
            continue
        t.c.eq(p.disposition, "form-data", "%s Content-Disposition" % name)
        t.c.eq((p.content_type or "").lower(), "application/octet-stream",
               "%s Content-Type" % name)
        t.c.check(p.data == data, "%s: bytes differ from the file (%d vs %d bytes)%s" % (
            name, len(p.data), len(data),
            " - got the duplicate's content" if b"DUPLICATE" in p.data else ""))
    if rep is None:
        return
    # The missing file is noted in annotations.Crash.
    crash = (rep.report.get("annotations") or {}).get("Crash")
    blob = json.dumps(crash)
    t.c.check(missing in blob or "missing.log" in blob,
              "annotations.Crash does not note the missing attachment %s: %s" % (
                  missing, blob[:1500]))
    t.c.check(b"DUPLICATE" not in q.body, "the duplicate basename's content was sent")
    t.check_state(rep, "sent", "multipart crash", rxid=q.rxid)
    # The state file lists the copies: name, path (in <uuid>.d/), source.
    st = rep.state or {}
    atl = st.get("attachments")
    if t.c.check(isinstance(atl, list), "state file has no attachments list: %s" % rep.state_raw):
        got = sorted((a.get("name"), a.get("source")) for a in atl if isinstance(a, dict))
        t.c.eq(got, [("a.txt", a_txt), ("b.bin", b_bin)],
               "state attachments (name, source)")
        ddir = os.path.join(db, rep.uuid + ".d")
        for a in atl:
            if not isinstance(a, dict) or not isinstance(a.get("path"), str):
                continue
            path = a["path"] if os.path.isabs(a["path"]) else os.path.join(db, a["path"])
            t.c.check(os.path.realpath(path).startswith(os.path.realpath(ddir) + "/"),
                      "attachment copy %s is not in %s" % (path, ddir))
            want = {"a.txt": a_data, "b.bin": b_data}.get(a.get("name"))
            try:
                with open(path, "rb") as f:
                    t.c.check(f.read() == want, "copy %s differs from the original" % path)
            except OSError as e:
                # A sent report may drop its copies; say so, do not fail.
                t.c.note("copy %s not readable after sending: %s" % (path, e))
    # Modes: database 0700, its files 0600 (DESIGN §6).
    mode = stat.S_IMODE(os.stat(db).st_mode)
    t.c.eq(oct(mode), oct(0o700), "mode of the database directory")
    for p in all_files(db):
        m = stat.S_IMODE(os.lstat(p).st_mode)
        want = 0o700 if os.path.isdir(p) else 0o600
        t.c.eq(oct(m), oct(want), "mode of %s" % p)


# ---------------------------------------------------------------------------
# Responses and flush


def flush_and_check(t, rx, db, uuids, what, args=("flush",), **env):
    """Runs `btcrash flush` (@args) against @rx (in ok mode): each of @uuids
    is sent once, byte for byte, and marked sent; output names each once."""
    n0 = len(rx.snapshot())
    rx.set_mode("ok")
    before = reports(db)
    r = t.cmd(list(args), db, BACKTRACE_ENDPOINT=rx.url, **env)
    t.say("flush stdout:\n%s" % r.out.rstrip())
    if r.err.strip():
        t.say("flush stderr:\n%s" % r.err.rstrip())
    t.c.eq(r.exitcode, 0, "%s: exit status of `btcrash flush` when every report is accepted"
           % what)
    new = rx.snapshot()[n0:]
    t.say("receiver got during flush: %r" % new)
    t.c.eq(len(new), len(uuids), "%s: requests the receiver got during flush" % what)
    after = reports(db)
    by_body = {}
    for q in new:
        up = t.upload_of(q, what)
        if up is not None:
            try:
                by_body[json.loads(up.data).get("uuid")] = q
            except ValueError:
                t.c.fail("%s: upload_file is not JSON" % what)
    text = r.out + r.err
    for u in uuids:
        q = by_body.get(u)
        if t.c.check(q is not None, "%s: report %s was not sent by flush" % (what, u)):
            t.check_request_is(q, before.get(u), "%s (%s)" % (what, u))
        t.check_state(after.get(u), "sent", what, rxid=q.rxid if q else None)
        lines = [ln for ln in text.splitlines() if u[:8] in ln]
        t.c.eq(len(lines), 1, "%s: lines of flush output naming %s (one per report)\n%s"
               % (what, u, text))
        if lines:
            t.c.check(re.search(r"\bsent\b|\bok\b|\b200\b|accepted", lines[0], re.I),
                      "%s: flush line for %s does not say it was sent: %r" % (what, u, lines[0]))
    return r


def response_case(t, status):
    rx = t.receiver(status)
    db = t.path("db")
    r = t.crash(db, BACKTRACE_ENDPOINT=rx.url, BACKTRACE_TOKEN="tok")
    reqs = rx.snapshot()
    t.say("receiver got: %r" % reqs)
    rep = t.one_new_report(db, {}, "crash with HTTP %s" % status)
    if rep is not None:
        t.say("state after the crash: %s" % rep.state_raw)
    if not t.c.check(len(reqs) >= 1, "expected a request, got none\n%s" % r.err[-1500:]):
        return
    t.check_request_is(reqs[0], rep, "crash with HTTP %s" % status)
    if status == "ok":
        t.c.eq(len(reqs), 1, "requests for one crash")
        t.check_state(rep, "sent", "HTTP 200", rxid=reqs[0].rxid)
        if rep is not None and rep.state and "http_status" in rep.state:
            t.c.eq(rep.state["http_status"], 200, "http_status of a sent report")
        # Sent: flush sends nothing.
        n0 = len(rx.snapshot())
        fr = t.cmd(["flush"], db, BACKTRACE_ENDPOINT=rx.url, BACKTRACE_TOKEN="tok")
        t.c.eq(fr.exitcode, 0, "exit status of flush with nothing pending")
        t.c.eq(len(rx.snapshot()) - n0, 0, "requests sent by flush for an already sent report")
    elif status == 400:
        t.c.eq(len(reqs), 1, "requests for one crash answered 400 (not retried)")
        t.check_state(rep, "rejected", "HTTP 400", status=400)
        rx.set_mode("ok")
        n0 = len(rx.snapshot())
        fr = t.cmd(["flush"], db, BACKTRACE_ENDPOINT=rx.url, BACKTRACE_TOKEN="tok")
        t.say("flush output: %r %r" % (fr.out, fr.err))
        t.c.eq(fr.exitcode, 0, "exit status of flush with only a rejected report")
        t.c.eq(rx.snapshot()[n0:], [], "requests sent by flush for a rejected report (must "
               "not be retried)")
        rep2 = reports(db).get(rep.uuid) if rep else None
        t.check_state(rep2, "rejected", "after flush", status=400)
    else:
        t.check_state(rep, "pending", "HTTP %s" % status, status=status)
        if rep is not None:
            flush_and_check(t, rx, db, [rep.uuid], "flush after HTTP %s" % status,
                            BACKTRACE_TOKEN="tok")
            # And nothing more to send.
            n0 = len(rx.snapshot())
            t.cmd(["flush"], db, BACKTRACE_ENDPOINT=rx.url, BACKTRACE_TOKEN="tok")
            t.c.eq(len(rx.snapshot()) - n0, 0, "requests of a second flush (all sent)")


def case_status_200(t):
    response_case(t, "ok")


def case_status_400(t):
    response_case(t, 400)


def case_status_429(t):
    response_case(t, 429)


def case_status_500(t):
    response_case(t, 500)


# ---------------------------------------------------------------------------
# Time bounds (DESIGN §1, §5)


def bounded_case(t, endpoint, what, rx=None, timeout_s=2.0):
    db = t.path("db")
    r = t.crash(db, timeout_s=timeout_s, what=what, BACKTRACE_ENDPOINT=endpoint,
                BACKTRACE_TOKEN="tok")
    rep = t.one_new_report(db, {}, what)
    if rep is not None:
        t.say("state afterwards: %s" % rep.state_raw)
    t.check_state(rep, "pending", what)
    if rx is not None:
        t.say("receiver got: %r" % rx.snapshot())
    return r, rep


def case_hang(t):
    rx = t.receiver("hang")
    r, rep = bounded_case(t, rx.url, "crash against a hung server (BACKTRACE_TIMEOUT=2)", rx)
    t.c.check(len(rx.snapshot()) >= 1, "the hung receiver got no request: the helper did not "
              "try to send\n%s" % r.err[-1500:])


def case_refused(t):
    port = rxmod.free_port()
    bounded_case(t, "http://127.0.0.1:%d/" % port, "crash against a refused port %d" % port)


def case_unresolvable(t):
    bounded_case(t, "http://nonexistent.invalid:9/", "crash against nonexistent.invalid")


def case_slow_helper(t):
    """BACKTRACE_HELPER_PATH is a script that sleeps 30 s (and starts a
    sleeping child): the process still dies within timeout + 0.5 s, and the
    helper's whole process group is killed."""
    d = t.newdir("slowhelper")
    script = os.path.join(d, "slow-helper.sh")
    with open(script, "w") as f:
        f.write("#!/bin/sh\n"
                "echo $$ > '%s/helper.pid'\n"
                "sleep 30 &\n"
                "echo $! > '%s/child.pid'\n"
                "sleep 30\n" % (d, d))
    os.chmod(script, 0o755)
    rx = t.receiver("ok")
    db = t.path("db")
    r = t.crash(db, timeout_s=2.0, what="crash with a helper that sleeps 30 s",
                wait_helper=False, BACKTRACE_HELPER_PATH=script, BACKTRACE_ENDPOINT=rx.url)
    pids = {}
    for n in ("helper", "child"):
        try:
            with open(os.path.join(d, n + ".pid")) as f:
                pids[n] = int(f.read().strip())
        except (OSError, ValueError):
            pass
    if not t.c.check("helper" in pids, "the slow helper script never ran (no helper.pid); "
                     "stderr:\n%s" % r.err[-1500:]):
        return
    end = time.monotonic() + 1.0
    alive = {}
    while True:
        alive = {n: p for n, p in pids.items() if pid_alive(p)}
        if not alive or time.monotonic() > end:
            break
        time.sleep(0.02)
    t.say("slow helper pids %r; alive 1 s after the crashed process died: %r" % (pids, alive))
    t.c.eq(alive, {}, "processes of the slow helper's group still alive 1 s after the crashed "
           "process died (the handler must kill the helper's process group)")
    for p in alive.values():
        try:
            os.kill(p, signal.SIGKILL)
        except OSError:
            pass


# ---------------------------------------------------------------------------
# TLS


def case_tls_verify(t):
    rx = t.receiver("ok", tls=True)
    db = t.path("db")
    r = t.crash(db, timeout_s=3.0, what="crash against a self-signed HTTPS server",
                BACKTRACE_ENDPOINT=rx.url, BACKTRACE_TOKEN="tok")
    t.say("receiver: requests %r, TLS handshake failures %r" % (rx.snapshot(), rx.tls_errors))
    t.c.eq(rx.snapshot(), [], "requests completed over TLS with an unverifiable certificate")
    rep = t.one_new_report(db, {}, "TLS verify")
    if rep is not None:
        t.say("state: %s" % rep.state_raw)
    t.check_state(rep, "pending", "TLS verify")
    # The helper must have tried: a handshake that the client aborted.
    t.c.check(rx.tls_errors, "no TLS handshake was attempted (the receiver saw no failed "
              "handshake): the helper did not try to send\n%s" % r.err[-1500:])


def case_tls_ignore(t):
    rx = t.receiver("ok", tls=True)
    db = t.path("db")
    r = t.crash(db, what="crash against a self-signed HTTPS server, "
                "BACKTRACE_IGNORE_SSL_CERTIFICATE=1", BACKTRACE_ENDPOINT=rx.url,
                BACKTRACE_TOKEN="tok", BACKTRACE_IGNORE_SSL_CERTIFICATE="1")
    reqs = rx.snapshot()
    t.say("receiver: requests %r, TLS handshake failures %r" % (reqs, rx.tls_errors))
    rep = t.one_new_report(db, {}, "TLS ignore")
    if t.c.check(len(reqs) == 1, "expected 1 request over TLS, got %r\n%s" % (
            reqs, r.err[-1500:])):
        t.check_request_is(reqs[0], rep, "TLS ignore")
        t.check_state(rep, "sent", "TLS ignore", rxid=reqs[0].rxid)


# ---------------------------------------------------------------------------
# Debug output and secrets


TOKEN_SECRET = "Zq9SecretTok/en+42"


def token_forms():
    return sorted({TOKEN_SECRET, quote(TOKEN_SECRET, safe=""), quote(TOKEN_SECRET),
                   quote(TOKEN_SECRET, safe="").lower(), "Zq9SecretTok"})


def check_no_token(t, text, where):
    for f in token_forms():
        if f in text:
            i = text.index(f)
            t.c.fail("the token (form %r) appears in %s: ...%s..." % (
                f, where, text[max(0, i - 120):i + 60]))
            return


def case_debug(t):
    rx = t.receiver("ok")
    db = t.path("db")
    env = dict(BACKTRACE_ENDPOINT=rx.url, BACKTRACE_TOKEN=TOKEN_SECRET,
               BACKTRACE_DEBUG_BACKTRACE="1")
    r = t.crash(db, what="debug crash, HTTP 200", **env)
    reqs = rx.snapshot()
    text = ANSI_RE.sub("", r.err)
    steps = [ln for ln in text.splitlines() if re.search(
        r"submit|send|sent|post|http|rxid|upload|deliver", ln, re.I)
        and not ln.startswith("FAULT_")]
    t.say("submission lines on stderr:\n  " + "\n  ".join(steps[:30]))
    check_no_token(t, r.err, "the crashed program's stderr (debug)")
    t.c.check("127.0.0.1:%d" % rx.port in text,
              "debug output does not show the (redacted) URL with 127.0.0.1:%d" % rx.port)
    t.c.check(re.search(r"/post\?token=[^&\s]*&format=json", text),
              "debug output does not show the URL's /post?token=...&format=json form, redacted")
    t.c.check(re.search(r"\b200\b", text), "debug output does not show the HTTP status 200")
    if t.c.check(len(reqs) == 1, "expected 1 request, got %r" % reqs):
        t.c.check(reqs[0].rxid in text, "debug output does not show the rxid %s" % reqs[0].rxid)
    # A failing attempt: status and error shown, token still absent.
    rx.set_mode(500)
    r2 = t.crash(db, what="debug crash, HTTP 500", **env)
    text2 = ANSI_RE.sub("", r2.err)
    check_no_token(t, r2.err, "the crashed program's stderr (debug, HTTP 500)")
    t.c.check(re.search(r"\b500\b", text2), "debug output of a 500 does not show the status "
              "500:\n%s" % "\n".join(text2.splitlines()[-15:]))
    # flush in debug mode
    rx.set_mode("ok")
    n0 = len(rx.snapshot())
    fr = t.cmd(["flush"], db, **env)
    ftext = ANSI_RE.sub("", fr.out + fr.err)
    t.say("flush (debug) output:\n" + ftext.rstrip())
    check_no_token(t, fr.out + fr.err, "`btcrash flush` output (debug)")
    new = rx.snapshot()[n0:]
    if t.c.check(len(new) == 1, "flush sent %d requests, expected 1 (the pending report)"
                 % len(new)):
        t.c.check(new[0].rxid in ftext, "flush (debug) does not show the rxid %s" % new[0].rxid)
    # list and show must not print it either
    for args in (["list"], ["show", next(iter(reports(db)), "x")]):
        lr = t.cmd(args, db, **env)
        check_no_token(t, lr.out + lr.err, "`btcrash %s` output" % " ".join(args))
    # The database: file names and contents.
    for p in all_files(db):
        check_no_token(t, os.path.relpath(p, db), "a database file name")
        if os.path.isfile(p):
            with open(p, "rb") as f:
                check_no_token(t, f.read().decode("utf-8", "replace"), "database file %s" % p)


# ---------------------------------------------------------------------------
# The command


def case_run_exit(t):
    db = t.path("db")
    for args, want in ((["run", "--", t.exe, "exit", "3"], 3),
                       (["run", t.exe, "exit", "7"], 7),
                       (["run", "--", t.exe, "exit", "0"], 0)):
        r = t.cmd(args, db)
        t.c.eq(r.exitcode, want, "exit status of `btcrash %s`" % " ".join(args))
    r = t.cmd(["run", "--", "/nonexistent/program"], db)
    t.c.check(r.exitcode not in (None, 0), "`btcrash run` of a missing program: %s, expected a "
              "nonzero exit" % r.describe())
    t.c.check(r.exitcode == 127 or r.exitcode == 2 or r.exitcode == 126 or r.exitcode == 1,
              "`btcrash run` of a missing program exits %s (shells use 127)" % r.exitcode)


def case_run_crash(t):
    db = t.path("db")
    base = run([t.exe], t.env(t.path("db-none")), t.newdir("plain"))
    t.say("without btcrash: %s" % base.describe())
    r = t.cmd(["run", "--", t.exe], db)
    t.say("stderr of btcrash run:\n" + r.err.rstrip()[-1500:])
    t.c.eq((r.signaled, r.termsig), (base.signaled, base.termsig),
           "termination of `btcrash run -- timed_null` vs the program alone (signaled, signal)")
    if r.signaled and base.signaled:
        t.c.eq(bool(os.WCOREDUMP(r.status)), bool(os.WCOREDUMP(base.status)),
               "core-dump bit under `btcrash run` vs the program alone")
    rep = t.one_new_report(db, {}, "crash under btcrash run")
    if rep is not None:
        thr = (rep.report.get("threads") or {}).get(rep.report.get("mainThread")) or {}
        funcs = [f.get("funcName") for f in thr.get("stack") or []]
        t.c.check(funcs[:4] == ["level3", "level2", "level1", "main"],
                  "faulting thread's frames under btcrash run: %r" % funcs[:8])
        t.c.eq(rep.report.get("classifiers"), ["SIGSEGV"], "classifiers")
    t.c.check("level3" in r.err and "SIGSEGV" in r.err,
              "local-mode summary missing from stderr under btcrash run")


def _crash_into(t, rx, db, mode, what):
    rx.set_mode(mode)
    before = reports(db)
    t.crash(db, what=what, BACKTRACE_ENDPOINT=rx.url, BACKTRACE_TOKEN="tok")
    return t.one_new_report(db, before, what)


def make_three_states(t):
    """A database with one sent, one rejected and one pending report, made by
    real crashes. Order matters: the helper retries pending reports after a
    new crash, so the pending one comes last."""
    rx = t.receiver("ok")
    db = t.path("db")
    sent = _crash_into(t, rx, db, "ok", "crash -> 200")
    rej = _crash_into(t, rx, db, 400, "crash -> 400")
    n0 = len(rx.snapshot())
    pend = _crash_into(t, rx, db, 500, "crash -> 500")
    # The helper may retry pending reports after a crash, never rejected ones.
    later = rx.snapshot()[n0:]
    for q in later:
        try:
            u = json.loads(t.upload_of(q, "retry").data).get("uuid")
        except Exception:
            continue
        t.c.check(rej is None or u != rej.uuid, "the helper re-sent the rejected report %s "
                  "after a later crash" % (rej.uuid if rej else "?"))
    t.check_state(sent, "sent", "crash -> 200")
    t.check_state(rej, "rejected", "crash -> 400", status=400)
    t.check_state(pend, "pending", "crash -> 500", status=500)
    return rx, db, sent, rej, pend


def case_list(t):
    rx, db, sent, rej, pend = make_three_states(t)
    r = t.cmd(["list"], db)
    t.say("btcrash list:\n" + r.out.rstrip())
    t.c.eq(r.exitcode, 0, "exit status of `btcrash list`")
    lines = r.out.splitlines()
    for rep, state in ((sent, "sent"), (rej, "rejected"), (pend, "pending")):
        if rep is None:
            continue
        mine = [ln for ln in lines if rep.uuid[:8] in ln]
        if not t.c.check(len(mine) == 1, "list: expected one row for %s, got %r" % (
                rep.uuid, mine)):
            continue
        row = mine[0]
        t.c.check(re.search(r"\b%s\b" % state, row), "list row of %s does not say %r: %r" % (
            rep.uuid, state, row))
        for other in {"sent", "rejected", "pending"} - {state}:
            t.c.check(not re.search(r"\b%s\b" % other, row), "list row of a %s report says %r: "
                      "%r" % (state, other, row))
        t.c.check(PROG in row, "list row lacks the application %r: %r" % (PROG, row))
        t.c.check("SIGSEGV" in row, "list row lacks the signal: %r" % row)
        t.c.check("level3" in row, "list row lacks the top frame level3: %r" % row)
        t.c.check(re.search(r"\d{1,2}:\d{2}", row) or re.search(r"\d{4}-\d{2}-\d{2}", row),
                  "list row shows no time: %r" % row)
    # Empty and missing databases: a table with no rows, exit 0.
    empty = t.newdir("emptydb")
    r = t.cmd(["list"], empty)
    t.c.eq(r.exitcode, 0, "exit status of `btcrash list` on an empty database")
    r = t.cmd(["list"], t.path("no-such-db"))
    t.say("list of a missing database: %s %r %r" % (r.describe(), r.out, r.err))


def case_flush(t):
    """Two pending reports; flush against a healthy receiver sends each once
    and prints one line per report; an empty database flushes cleanly."""
    rx = t.receiver(500)
    db = t.path("db")
    p1 = _crash_into(t, rx, db, 500, "crash 1 -> 500")
    p2 = _crash_into(t, rx, db, 503, "crash 2 -> 503")
    t.check_state(p1, "pending", "crash 1 -> 500")
    t.check_state(p2, "pending", "crash 2 -> 503", status=503)
    # Still failing: flush keeps them pending, with a line each.
    n0 = len(rx.snapshot())
    rx.set_mode(500)
    fr = t.cmd(["flush"], db, BACKTRACE_ENDPOINT=rx.url, BACKTRACE_TOKEN="tok")
    t.say("flush against a failing receiver:\n" + (fr.out + fr.err).rstrip())
    t.c.eq(len(rx.snapshot()) - n0, 2, "requests of a flush with 2 pending reports (500)")
    after = reports(db)
    for rep in (p1, p2):
        if rep is None:
            continue
        t.check_state(after.get(rep.uuid), "pending", "after a failing flush", status=500)
        lines = [ln for ln in (fr.out + fr.err).splitlines() if rep.uuid[:8] in ln]
        t.c.eq(len(lines), 1, "lines of the failing flush naming %s" % rep.uuid)
        if lines:
            t.c.check("500" in lines[0], "failing flush line does not show the status 500: %r"
                      % lines[0])
    t.say("failing flush exit status: %s" % fr.describe())
    if p1 is not None and p2 is not None:
        flush_and_check(t, rx, db, [p1.uuid, p2.uuid], "flush of 2 pending reports",
                        BACKTRACE_TOKEN="tok")
    # Nothing pending
    r = t.cmd(["flush"], t.newdir("emptydb"), BACKTRACE_ENDPOINT=rx.url)
    t.c.eq(r.exitcode, 0, "exit status of flush on an empty database")
    # No endpoint: cannot flush; must say so, not claim success.
    rx2 = t.receiver(500)
    db2 = t.path("db2")
    p3 = _crash_into(t, rx2, db2, 500, "crash 3 -> 500")
    r = t.cmd(["flush"], db2)
    t.say("flush without BACKTRACE_ENDPOINT: %s\n%s" % (r.describe(), (r.out + r.err).rstrip()))
    t.c.check(r.exitcode not in (None, 0), "flush with pending reports and no "
              "BACKTRACE_ENDPOINT exits 0: nothing could be sent")
    t.check_state(reports(db2).get(p3.uuid) if p3 else None, "pending", "flush without endpoint")


def case_show(t):
    rx = t.receiver("ok")
    db = t.path("db")
    rep = _crash_into(t, rx, db, "ok", "crash to show")
    if rep is None:
        return
    src = os.path.join(t.src, "timed_null.c")
    with open(src) as f:
        lines = f.read().splitlines()

    def lineno(marker):
        return next(i + 1 for i, ln in enumerate(lines) if marker in ln)

    tid = rep.report.get("mainThread")
    for arg in (rep.uuid, rep.json_path):
        r = t.cmd(["show", arg], db)
        text = ANSI_RE.sub("", r.out)
        what = "`btcrash show %s`" % arg
        t.c.eq(r.exitcode, 0, "exit status of " + what)
        if t.a.verbose:
            print(text)
        t.c.check(tid and re.search(r"\b%s\b" % tid, text), "%s: no thread %s" % (what, tid))
        for func, marker in (("level3", "@fault"), ("level2", "@call2"), ("level1", "@call1"),
                             ("main", "@main")):
            loc = "timed_null.c:%d" % lineno(marker)
            t.c.check(re.search(r"\b%s\b.*%s" % (func, re.escape(loc)), text),
                      "%s: no frame %s at %s" % (what, func, loc))
        n = lineno("@fault")
        marked = [ln for ln in text.splitlines()
                  if "*p = 42;" in ln and re.search(r"(>|=>|\u2192|-->)\s*%d\b" % n, ln)]
        t.c.check(marked, "%s: the faulting source line %d (*p = 42;) is not shown with a "
                  "marker (e.g. '> %d  ...')" % (what, n, n))
        unmarked = [ln for ln in text.splitlines()
                    if re.search(r"^\s*(>|=>|\u2192|-->)\s*%d\b" % (n - 1), ln)]
        t.c.eq(unmarked, [], "%s: the line above the fault is marked too" % what)
        t.c.check("error.message" in text or "SIGSEGV (SEGV_MAPERR)" in text,
                  "%s: attributes (error.message) not shown" % what)
        t.c.check("SIGSEGV" in text, "%s: no signal" % what)
    for bad in ("00000000-0000-4000-8000-000000000000", t.path("nope.json")):
        r = t.cmd(["show", bad], db)
        t.c.check(r.exitcode not in (None, 0), "`btcrash show %s` (no such report) exits 0" % bad)


def case_cli_args(t):
    db = t.path("db")
    r = t.cmd(["--help"], db)
    t.c.eq(r.exitcode, 0, "exit status of `btcrash --help`")
    for word in ("run", "list", "show", "flush"):
        t.c.check(re.search(r"\b%s\b" % word, r.out), "--help (stdout) does not mention %r:\n%s"
                  % (word, r.out))
    for args in ([], ["bogus"], ["run"], ["run", "--"], ["show"], ["list", "--bogus"],
                 ["flush", "--bogus"], ["show", "a", "b"]):
        r = t.cmd(args, db)
        t.c.eq(r.exitcode, 2, "exit status of `btcrash %s` (bad arguments)" % " ".join(args))
        t.c.check(r.err.strip(), "`btcrash %s` prints nothing on stderr" % " ".join(args))


def case_signal_with_endpoint(t):
    """With an endpoint (accepted, failing, hung) the crashed program still
    dies of SIGSEGV, core-dump bit as without btcrash."""
    base = run([t.exe], t.env(t.path("db-none")), t.newdir("plain"))
    t.say("without btcrash: %s" % base.describe())
    for mode in ("ok", 500, "hang"):
        rx = t.receiver(mode)
        db = t.path("db-%s" % mode)
        r = t.crash(db, timeout_s=2.0, what="crash with endpoint in mode %s" % mode,
                    BACKTRACE_ENDPOINT=rx.url, BACKTRACE_TOKEN="tok")
        if r.signaled and base.signaled:
            t.c.eq(bool(os.WCOREDUMP(r.status)), bool(os.WCOREDUMP(base.status)),
                   "core-dump bit with endpoint (%s) vs without btcrash" % mode)


# ---------------------------------------------------------------------------
# Further cases: other statuses, the backlog, attachment copies


def case_status_404(t):
    """Any 4xx other than 429 is a rejection, kept with its status."""
    rx = t.receiver(404)
    db = t.path("db")
    t.crash(db, BACKTRACE_ENDPOINT=rx.url, BACKTRACE_TOKEN="tok")
    rep = t.one_new_report(db, {}, "crash -> 404")
    t.c.eq(len(rx.snapshot()), 1, "requests for a crash answered 404")
    t.check_state(rep, "rejected", "crash -> 404", status=404)


def case_status_201(t):
    """Only HTTP 200 is success (DESIGN §4): a 201 leaves the report pending."""
    rx = t.receiver(201)
    db = t.path("db")
    t.crash(db, BACKTRACE_ENDPOINT=rx.url, BACKTRACE_TOKEN="tok")
    rep = t.one_new_report(db, {}, "crash -> 201")
    if rep is not None:
        t.say("state: %s" % rep.state_raw)
    t.check_state(rep, "pending", "crash -> 201", status=201)


def case_helper_retry_backlog(t):
    """DESIGN §6: pending reports are retried by the helper after it has
    handled a new crash, if time is left."""
    rx = t.receiver(500)
    db = t.path("db")
    old = _crash_into(t, rx, db, 500, "crash 1 -> 500")
    t.check_state(old, "pending", "crash 1 -> 500", status=500)
    n0 = len(rx.snapshot())
    new = _crash_into(t, rx, db, "ok", "crash 2 -> 200")
    got = rx.snapshot()[n0:]
    t.say("receiver got after crash 2: %r" % got)
    uuids = []
    for q in got:
        up = t.upload_of(q, "backlog")
        if up is not None:
            uuids.append(json.loads(up.data).get("uuid"))
    if new is not None:
        t.c.check(uuids[:1] == [new.uuid], "the new crash's report must be sent first; order "
                  "of uuids sent: %r (new %s)" % (uuids, new.uuid))
    if old is not None:
        t.c.check(old.uuid in uuids, "the helper did not retry the pending report %s after "
                  "handling a new crash (DESIGN §6); sent: %r" % (old.uuid, uuids))
        after = reports(db)
        t.check_state(after.get(old.uuid), "sent", "backlog report after crash 2")
    t.check_state(reports(db).get(new.uuid) if new else None, "sent", "crash 2")


def case_hang_backlog(t):
    """A hung server and three pending reports in the database: the crashed
    process still dies within timeout + 0.5 s, and no helper goes on past the
    deadline (wait_helpers fails the case if one does)."""
    rx = t.receiver(500)
    db = t.path("db")
    for i in range(3):
        _crash_into(t, rx, db, 500, "backlog crash %d -> 500" % (i + 1))
    rx.set_mode("hang")
    before = reports(db)
    t.crash(db, timeout_s=2.0, what="crash against a hung server with 3 pending reports",
            BACKTRACE_ENDPOINT=rx.url, BACKTRACE_TOKEN="tok")
    rep = t.one_new_report(db, before, "hang with backlog")
    t.check_state(rep, "pending", "hang with backlog")
    after = reports(db)
    t.c.eq(sorted(r.state_name for r in after.values()), ["pending"] * 4,
           "states of the 4 reports")


def case_flush_hang(t):
    """`btcrash flush` against a hung server gives each report at most the
    timeout (DESIGN §7), prints a line for each, and keeps them pending."""
    rx = t.receiver(500)
    db = t.path("db")
    p1 = _crash_into(t, rx, db, 500, "crash 1 -> 500")
    p2 = _crash_into(t, rx, db, 500, "crash 2 -> 500")
    rx.set_mode("hang")
    t0 = time.monotonic()
    r = t.cmd(["flush"], db, BACKTRACE_ENDPOINT=rx.url, BACKTRACE_TOKEN="tok",
              BACKTRACE_TIMEOUT="1")
    took = time.monotonic() - t0
    t.say("flush against a hung server, BACKTRACE_TIMEOUT=1, 2 pending: %s in %.2f s\n%s" % (
        r.describe(), took, (r.out + r.err).rstrip()))
    t.c.check(took <= 2 * 1.0 + 1.0, "flush of 2 reports against a hung server took %.2f s; "
              "at most the timeout (1 s) per report (+1 s slack) expected" % took)
    after = reports(db)
    for rep in (p1, p2):
        if rep is None:
            continue
        t.check_state(after.get(rep.uuid), "pending", "after a hung flush")
        lines = [ln for ln in (r.out + r.err).splitlines() if rep.uuid[:8] in ln]
        t.c.eq(len(lines), 1, "lines of the hung flush naming %s" % rep.uuid)
    t.c.check(r.exitcode not in (None, 0), "flush that sent nothing exits 0")


def case_attachment_snapshot(t):
    """The attachment is copied at crash time (db.h): a later flush sends
    what the file held then, even after it changed or was deleted."""
    d = t.newdir("att")
    a = os.path.join(d, "state.log")
    b = os.path.join(d, "gone.bin")
    a_data = b"at crash time\n" * 50
    b_data = os.urandom(3000)
    with open(a, "wb") as f:
        f.write(a_data)
    with open(b, "wb") as f:
        f.write(b_data)
    rx = t.receiver(500)
    db = t.path("db")
    rep = _crash_into_env(t, rx, db, 500, "crash with attachments -> 500",
                          BACKTRACE_ATTACHMENTS="%s:%s" % (a, b))
    with open(a, "wb") as f:
        f.write(b"CHANGED AFTER THE CRASH\n")
    os.unlink(b)
    rx.set_mode("ok")
    n0 = len(rx.snapshot())
    r = t.cmd(["flush"], db, BACKTRACE_ENDPOINT=rx.url, BACKTRACE_TOKEN="tok")
    t.say("flush: %s\n%s" % (r.describe(), (r.out + r.err).rstrip()))
    new = rx.snapshot()[n0:]
    if not t.c.check(len(new) == 1, "flush sent %d requests, expected 1" % len(new)):
        return
    parts = {p.name: p for p in new[0].multipart()}
    t.say("parts: %r" % list(parts.values()))
    for name, data in (("attachment_state.log", a_data), ("attachment_gone.bin", b_data)):
        p = parts.get(name)
        if t.c.check(p is not None, "flush did not send %s (parts %r)" % (name, list(parts))):
            t.c.check(p.data == data, "%s sent by flush (%d bytes) is not the crash-time content "
                      "(%d bytes)%s" % (name, len(p.data), len(data),
                                        " - it is the changed file" if b"CHANGED" in p.data
                                        else ""))
    if rep is not None:
        t.check_request_is(new[0], rep, "flush with attachments")
        t.check_state(reports(db).get(rep.uuid), "sent", "flush with attachments",
                      rxid=new[0].rxid)


def case_attachment_cut(t):
    """db.h: a copied attachment larger than 16 MiB is cut there, and the
    report says so."""
    limit = 16 * 1024 * 1024
    d = t.newdir("att")
    big = os.path.join(d, "big.bin")
    chunk = os.urandom(1 << 20)
    with open(big, "wb") as f:
        for _ in range(16):
            f.write(chunk)
        f.write(b"TAIL-BEYOND-THE-LIMIT" * 10)
    rx = t.receiver("ok")
    db = t.path("db")
    rep = _crash_into_env(t, rx, db, "ok", "crash with a 16 MiB + 210 B attachment",
                          BACKTRACE_ATTACHMENTS=big)
    reqs = rx.snapshot()
    if not t.c.check(len(reqs) == 1, "expected 1 request, got %r" % reqs):
        return
    parts = {p.name: p for p in reqs[0].multipart()}
    p = parts.get("attachment_big.bin")
    if t.c.check(p is not None, "no attachment_big.bin part: %r" % list(parts)):
        t.c.eq(len(p.data), limit, "length of the cut attachment part")
        t.c.check(p.data == chunk * 16, "the first 16 MiB of the attachment differ")
    if rep is not None:
        blob = json.dumps((rep.report.get("annotations") or {}).get("Crash"))
        t.c.check("big.bin" in blob, "annotations.Crash does not say big.bin was cut: %s"
                  % blob[:1000])


def _crash_into_env(t, rx, db, mode, what, **env):
    rx.set_mode(mode)
    before = reports(db)
    t.crash(db, what=what, BACKTRACE_ENDPOINT=rx.url, BACKTRACE_TOKEN="tok", **env)
    return t.one_new_report(db, before, what)


def case_orphan_state(t):
    """db.h: a report without a state file is pending, made for no known
    endpoint: `flush` leaves it alone and says so, `flush --local` sends it;
    temporary files (names starting with '.') are skipped; a corrupt state
    file does not break list, which repairs it and says so."""
    rx = t.receiver(500)
    db = t.path("db")
    a = _crash_into(t, rx, db, 500, "crash A -> 500")
    b = _crash_into(t, rx, db, 500, "crash B -> 500")
    if a is None or b is None:
        return
    os.unlink(a.state_path)
    with open(os.path.join(db, ".%s.json.tmp" % b.uuid), "wb") as f:
        f.write(b'{"uuid": "half a rep')
    r = t.cmd(["list"], db)
    t.say("list:\n" + (r.out + r.err).rstrip())
    t.c.eq(r.exitcode, 0, "exit status of list with a report without a state file")
    rows = [ln for ln in r.out.splitlines() if a.uuid[:8] in ln]
    t.c.check(len(rows) == 1 and re.search(r"\bpending\b", rows[0]),
              "list row of a report without a state file (pending): %r" % rows)
    t.c.check(".json.tmp" not in r.out and "half" not in r.out,
              "list shows a temporary file")
    n0 = len(rx.snapshot())
    rx.set_mode("ok")
    r = t.cmd(["flush"], db, BACKTRACE_ENDPOINT=rx.url, BACKTRACE_TOKEN="tok")
    t.say("flush:\n" + r.out.rstrip())
    sent = [json.loads(t.upload_of(q, "flush").data).get("uuid") for q in rx.snapshot()[n0:]]
    t.c.eq(sent, [b.uuid], "flush sends B (made for this endpoint), not A (no state file: "
           "made for no known endpoint)")
    t.c.check(re.search(re.escape(a.uuid) + r" skipped: .*no known endpoint", r.out),
              "flush does not say it skipped A, and why:\n" + r.out)
    flush_and_check(t, rx, db, [a.uuid], "flush --local with a missing state file",
                    BACKTRACE_TOKEN="tok", args=["flush", "--local"])
    # A corrupt state file: list still works, shows the other reports, and
    # repairs it (moved aside; the report pending again).
    with open(b.state_path, "wb") as f:
        f.write(b"not json{")
    r = t.cmd(["list"], db)
    t.say("list with a corrupt state file: %s\n%s" % (r.describe(), (r.out + r.err).rstrip()))
    t.c.eq(r.exitcode, 0, "list with a corrupt state file: %s" % r.describe())
    rows = [ln for ln in r.out.splitlines() if a.uuid[:8] in ln]
    t.c.check(len(rows) == 1 and re.search(r"\bsent\b", rows[0]),
              "list with a corrupt state file of another report: the row of the sent report "
              "%s: %r" % (a.uuid, rows))
    rows = [ln for ln in r.out.splitlines() if b.uuid[:8] in ln]
    t.c.check(len(rows) == 1 and re.search(r"\bpending\b", rows[0]),
              "list row of the report whose state file was corrupt (repaired: pending): %r"
              % rows)
    t.c.check(re.search(re.escape(b.uuid) + r".*moved aside", r.err),
              "list does not say it moved the corrupt state aside:\n" + r.err)


def case_concurrent_crashes(t):
    """Four processes crash at once into one database, against a receiver
    that answers after 0.4 s: each report reaches the server exactly once
    (a helper retrying the backlog must not re-send a report another helper
    is sending), and all end sent."""
    rx = t.receiver("ok", delay=0.4)
    db = t.path("db")
    env = t.env(db, LD_PRELOAD=t.lib, BACKTRACE_ENDPOINT=rx.url, BACKTRACE_TOKEN="tok")
    procs = []
    for i in range(4):
        cwd = t.newdir("cwd")
        procs.append(subprocess.Popen([t.exe], env=env, cwd=cwd, stdin=subprocess.DEVNULL,
                                      stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                      start_new_session=True))
    for p in procs:
        try:
            _, err = p.communicate(timeout=RUN_TIMEOUT)
        except subprocess.TimeoutExpired:
            os.killpg(p.pid, signal.SIGKILL)
            p.communicate()
            t.c.fail("HANG: a concurrently crashing process did not die within %d s"
                     % RUN_TIMEOUT)
            continue
        t.c.eq(p.returncode, -signal.SIGSEGV, "termination of a concurrently crashing process")
    t.wait_helpers(db, time.monotonic() + DEFAULT_TIMEOUT_S, "concurrent crashes")
    time.sleep(0.5)  # answers still in flight
    reqs = rx.snapshot()
    uuids = []
    for q in reqs:
        up = t.upload_of(q, "concurrent")
        if up is not None:
            uuids.append(json.loads(up.data).get("uuid"))
    reps = reports(db)
    t.say("reports %d, requests %d, uuids sent: %r" % (len(reps), len(reqs), uuids))
    t.c.eq(len(reps), 4, "reports stored by 4 concurrent crashes")
    dups = sorted({u for u in uuids if uuids.count(u) > 1})
    t.c.eq(dups, [], "reports sent more than once by concurrent helpers (duplicates on the "
           "server)")
    t.c.eq(sorted(set(uuids)), sorted(reps), "the set of reports the receiver got")
    for u, rep in reps.items():
        t.check_state(rep, "sent", "concurrent crash %s" % u)


def case_run_signals(t):
    """`btcrash run` passes any termination through: SIGABRT from abort(),
    SIGTERM sent to the program, and exit 255."""
    db = t.path("db")
    abort_prog = os.path.join(t.progs, "abort_call")
    cases = [([abort_prog], ("sig", signal.SIGABRT)),
             (["/bin/sh", "-c", "kill -TERM $$"], ("sig", signal.SIGTERM)),
             (["/bin/sh", "-c", "exit 255"], ("exit", 255)),
             (["/bin/sh", "-c", 'test "$1" = "a b" && test "$2" = "" && exit 4', "sh", "a b",
               ""], ("exit", 4))]
    for argv, (kind, val) in cases:
        r = t.cmd(["run", "--"] + argv, db)
        got = ("sig", r.termsig) if r.signaled else ("exit", r.exitcode)
        t.c.eq(got, (kind, val), "termination of `btcrash run -- %s`" % " ".join(argv))


def case_concurrent_flush(t):
    """Two `btcrash flush` at once over three pending reports, against a
    receiver that answers after 0.3 s: each report is sent exactly once."""
    rx = t.receiver(500)
    db = t.path("db")
    pend = [_crash_into(t, rx, db, 500, "crash %d -> 500" % i) for i in (1, 2, 3)]
    rx.set_mode("ok")
    rx.delay = 0.3
    n0 = len(rx.snapshot())
    env = t.env(db, BACKTRACE_ENDPOINT=rx.url, BACKTRACE_TOKEN="tok")
    procs = [subprocess.Popen([t.helper, "flush"], env=env, stdin=subprocess.DEVNULL,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              start_new_session=True) for _ in range(2)]
    for p in procs:
        try:
            out, _ = p.communicate(timeout=RUN_TIMEOUT)
            t.say("flush (%d):\n%s" % (p.returncode, out.decode("utf-8", "replace").rstrip()))
        except subprocess.TimeoutExpired:
            os.killpg(p.pid, signal.SIGKILL)
            p.communicate()
            t.c.fail("HANG: a concurrent flush did not finish within %d s" % RUN_TIMEOUT)
    uuids = []
    for q in rx.snapshot()[n0:]:
        up = t.upload_of(q, "concurrent flush")
        if up is not None:
            uuids.append(json.loads(up.data).get("uuid"))
    t.say("uuids sent by the two flushes: %r" % uuids)
    dups = sorted({u for u in uuids if uuids.count(u) > 1})
    t.c.eq(dups, [], "reports sent more than once by two concurrent flushes")
    t.c.eq(sorted(set(uuids)), sorted(r.uuid for r in pend if r), "reports sent")
    for r in pend:
        if r is not None:
            t.check_state(reports(db).get(r.uuid), "sent", "after two concurrent flushes")


CASES = {
    "url_token": case_url_token,
    "url_trailing_slash": case_url_trailing_slash,
    "url_plain": case_url_plain,
    "url_submit_io": case_url_submit_io,
    "multipart": case_multipart,
    "status_200": case_status_200,
    "status_400": case_status_400,
    "status_429": case_status_429,
    "status_500": case_status_500,
    "hang": case_hang,
    "refused": case_refused,
    "unresolvable": case_unresolvable,
    "slow_helper": case_slow_helper,
    "tls_verify": case_tls_verify,
    "tls_ignore": case_tls_ignore,
    "debug": case_debug,
    "run_exit": case_run_exit,
    "run_crash": case_run_crash,
    "list": case_list,
    "flush": case_flush,
    "show": case_show,
    "cli_args": case_cli_args,
    "signal_with_endpoint": case_signal_with_endpoint,
    "status_404": case_status_404,
    "status_201": case_status_201,
    "helper_retry_backlog": case_helper_retry_backlog,
    "hang_backlog": case_hang_backlog,
    "flush_hang": case_flush_hang,
    "attachment_snapshot": case_attachment_snapshot,
    "attachment_cut": case_attachment_cut,
    "orphan_state": case_orphan_state,
    "concurrent_crashes": case_concurrent_crashes,
    "run_signals": case_run_signals,
    "concurrent_flush": case_concurrent_flush,
}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--lib", required=True)
    ap.add_argument("--helper", required=True)
    ap.add_argument("--progs", required=True)
    ap.add_argument("--src", required=True)
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
    t = T(a, a.case)
    print("case %s (tmp %s)" % (a.case, t.tmp), flush=True)
    try:
        for p in (t.lib, t.helper, t.exe):
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
    return t.finish()


if __name__ == "__main__":
    sys.exit(main())
