"""Integration tests of report delivery (DESIGN.md §4 wire, §5 time, §6
database, §7 command) against a local receiver (receiver.py).

Each case crashes progs/timed_null (a NULL write three calls deep that prints
CLOCK_MONOTONIC just before it faults) under LD_PRELOAD=libbtcrash.so with
BACKTRACE_ENDPOINT pointing at the receiver, or runs the `btcrash` command,
and checks what the receiver got, byte for byte, what the crash database
holds, how fast the crashed process died and what it died of (conftest.py:
`btc.crash` checks the signal and the bound BACKTRACE_TIMEOUT + 0.5 s, and
waits for the helpers). Every subprocess has a timeout: a hang fails the
test instead of blocking.

    pytest tests/integration/test_delivery.py --btc-build build
"""

import json
import os
import re
import signal
import stat
import subprocess
import time
from urllib.parse import quote

import pytest

import receiver as rxmod
from conftest import DEFAULT_TIMEOUT_S, RUN_TIMEOUT, all_files, backoff_over, reports, run

pytestmark = pytest.mark.delivery

ANSI_RE = re.compile(r"\x1b\[[0-9;]*m")
TOKEN_ODD = "s3cr3t/tok+en &=?%#~\u00e9!"
TOKEN_SECRET = "Zq9SecretTok/en+42"


def src_line(build, marker):
    """The line of progs/timed_null.c that holds @marker (@fault, @call2...)."""
    with open(os.path.join(build.src, "timed_null.c")) as f:
        return next(i for i, ln in enumerate(f, 1) if marker in ln)


def pid_alive(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            s = f.read()
    except OSError:
        return False
    return s[s.rfind(")") + 2:].split()[0] not in ("Z", "X")


# ---------------------------------------------------------------------------
# Checks of this file


def check_state(check, rep, state, what, status=None, rxid=None, error=None):
    """@rep's state file says @state (and @status, @rxid when given). A
    pending report counts its attempts and keeps its last error, which
    matches the regular expression @error when given."""
    if rep is None:
        return
    st = rep.state or {}
    raw = json.dumps(rep.state)
    check.eq(rep.state_name, state, "%s: state of %s (state file %s)" % (what, rep.uuid, raw))
    if status is not None:
        check.eq(st.get("http_status"), status, "%s: http_status in %s.state (%s)"
                 % (what, rep.uuid, raw))
    if rxid is not None:
        check.eq(st.get("rxid"), rxid, "%s: rxid in %s.state" % (what, rep.uuid))
    if state == "pending":
        check(isinstance(st.get("attempts"), int) and st["attempts"] >= 1,
              "%s: a pending report after a failed attempt counts attempts >= 1; state: %s"
              % (what, raw))
        check(isinstance(st.get("last_error"), str) and st["last_error"],
              "%s: a pending report after a failed attempt keeps last_error; state: %s"
              % (what, raw))
    if error is not None:
        check(re.fullmatch(error, str(st.get("last_error"))),
              "%s: last_error of %s is %r, expected /%s/" % (what, rep.uuid,
                                                              st.get("last_error"), error))


def upload_of(check, req, what):
    """The upload_file part of @req, or None (failures recorded)."""
    try:
        parts = req.multipart()
    except ValueError as e:
        check.fail("%s: the body is not valid multipart/form-data: %s (Content-Type %r)"
                   % (what, e, req.header("Content-Type")))
        return None
    ups = [p for p in parts if p.name == "upload_file"]
    if not check.eq(len(ups), 1, "%s: upload_file parts in %r" % (what, parts)):
        return None
    return ups[0]


def uuid_of(check, req, what):
    """The uuid of the report @req carries, or None (failures recorded)."""
    up = upload_of(check, req, what)
    try:
        return None if up is None else json.loads(up.data).get("uuid")
    except ValueError:
        check.fail("%s: upload_file is not JSON" % what)
        return None


def check_request_is(check, req, rep, what):
    """@req is a POST carrying @rep's stored JSON, byte for byte."""
    check.eq(req.method, "POST", "%s: method" % what)
    up = upload_of(check, req, what)
    if up is not None and rep is not None and up.data != rep.raw:
        check.fail("%s: upload_file part (%d bytes) differs from the stored %s (%d bytes); "
                   "first difference at byte %d" % (
                       what, len(up.data), rep.json_path, len(rep.raw),
                       next((i for i, (x, y) in enumerate(zip(up.data, rep.raw)) if x != y),
                            min(len(up.data), len(rep.raw)))))


def crash_into(btc, rx, db, mode, what, **env):
    """A crash against @rx answering @mode; its new report (or None)."""
    rx.set_mode(mode)
    before = reports(db)
    btc.crash(db, what=what, BACKTRACE_ENDPOINT=rx.url, BACKTRACE_TOKEN="tok", **env)
    return btc.one_new_report(db, before, what)


def flush_and_check(btc, check, rx, db, uuids, what, args=("flush",), **env):
    """Runs `btcrash flush` (@args) against @rx (in ok mode): each of @uuids
    is sent once, byte for byte, and marked sent; the output has one line
    for each, "UUID sent (rxid RXID)". Returns uuid -> request."""
    n0 = len(rx.snapshot())
    rx.set_mode("ok")
    # Minutes later, when the failed attempts' backoff is over.
    backoff_over(db)
    before = reports(db)
    r = btc.cmd(list(args), db, BACKTRACE_ENDPOINT=rx.url, **env)
    print("%s:\n%s" % (" ".join(args), (r.out + r.err).rstrip()))
    check.eq(r.exitcode, 0, "%s: exit status of `btcrash flush` when every report is accepted"
             % what)
    new = rx.snapshot()[n0:]
    check.eq(len(new), len(uuids), "%s: requests the receiver got during flush" % what)
    after = reports(db)
    by_uuid = {uuid_of(check, q, what): q for q in new}
    text = r.out + r.err
    for u in uuids:
        q = by_uuid.get(u)
        if check(q is not None, "%s: report %s was not sent by flush" % (what, u)):
            check_request_is(check, q, before.get(u), "%s (%s)" % (what, u))
        check_state(check, after.get(u), "sent", what, rxid=q.rxid if q else None)
        lines = [ln for ln in text.splitlines() if u in ln]
        check.eq(lines, ["%s sent (rxid %s)" % (u, q.rxid if q else "?")],
                 "%s: the lines of flush output naming %s" % (what, u))
    return by_uuid


def token_forms():
    return sorted({TOKEN_SECRET, quote(TOKEN_SECRET, safe=""), quote(TOKEN_SECRET),
                   quote(TOKEN_SECRET, safe="").lower(), "Zq9SecretTok"})


def check_no_token(check, text, where):
    for f in token_forms():
        if f in text:
            i = text.index(f)
            check.fail("the token (form %r) appears in %s: ...%s..." % (
                f, where, text[max(0, i - 120):i + 60]))
            return


def list_rows(text):
    """The rows of `btcrash list` output, each a list of its cells (columns
    are two or more spaces apart; TIME holds one)."""
    return [re.split(r" {2,}", ln.rstrip()) for ln in text.splitlines()[1:]]


# ---------------------------------------------------------------------------
# URL rules (DESIGN §4)

URLS = [
    # (id, endpoint after the receiver's URL, token, the request's path and query)
    ("token", "", TOKEN_ODD, "/post?token=%s&format=json" % quote(TOKEN_ODD, safe="")),
    ("trailing_slash", "/", "abc123", "/post?token=abc123&format=json"),
    ("path_prefix", "/api/v1/", "abc123", "/api/v1/post?token=abc123&format=json"),
    ("plain", "/custom/path", None, "/custom/path"),
    ("submit_io", "/submit.backtrace.io/myuniverse/0123abcd/json", "othertoken",
     "/submit.backtrace.io/myuniverse/0123abcd/json"),
]


@pytest.mark.parametrize("suffix,token,path", [u[1:] for u in URLS], ids=[u[0] for u in URLS])
def test_url(btc, receiver, check, db, suffix, token, path):
    """token: POST ENDPOINT/post?token=<every byte but the unreserved ones
    %XX-encoded, as RFC 3986>&format=json; a trailing '/' of the endpoint is
    not doubled (also after a path prefix); no token: the endpoint as it is;
    an endpoint containing submit.backtrace.io is used as given, even with a
    token set (the receiver is local; the name is in the path)."""
    rx = receiver("ok")
    r = btc.crash(db, BACKTRACE_ENDPOINT=rx.url + suffix, BACKTRACE_TOKEN=token)
    reqs = rx.snapshot()
    if not check.eq(len(reqs), 1, "requests for one crash; stderr:\n%s" % r.err[-1500:]):
        return
    q = reqs[0]
    check.eq(q.path, path, "the request's path and query")
    if token == TOKEN_ODD:
        check.eq(q.query.get("token"), [TOKEN_ODD], "the token as a form decoder (parse_qs) "
                 "reads it")
    rep = btc.one_new_report(db, {}, "crash")
    check_state(check, rep, "sent", "crash", rxid=q.rxid)
    check_request_is(check, q, rep, "crash")


# ---------------------------------------------------------------------------
# Multipart layout


def test_multipart(btc, receiver, check, db):
    """upload_file first, then one part per attachment basename in the order
    given, each byte for byte; a second file with the same basename and a
    missing file are skipped and noted in annotations.Crash; the copies are
    kept in <uuid>.d/; database 0700, its files 0600 (DESIGN §6)."""
    d1, d2 = btc.newdir("att1"), btc.newdir("att2")
    a_txt, b_bin = os.path.join(d1, "a.txt"), os.path.join(d1, "b.bin")
    dup, missing = os.path.join(d2, "a.txt"), os.path.join(d2, "missing.log")
    a_data = b"first attachment\nline two\n"
    # Every byte value, CRLFs and things that look like a boundary.
    b_data = bytes(range(256)) + b"\r\n--\r\n--boundary\r\n\r\n" + bytes(range(255, -1, -1))
    for path, data in ((a_txt, a_data), (b_bin, b_data),
                       (dup, b"DUPLICATE BASENAME: must not be sent\n")):
        with open(path, "wb") as f:
            f.write(data)
    rx = receiver("ok")
    r = btc.crash(db, BACKTRACE_ENDPOINT=rx.url, BACKTRACE_TOKEN="tok",
                  BACKTRACE_ATTACHMENTS=":".join([a_txt, b_bin, dup, missing]))
    reqs = rx.snapshot()
    if not check.eq(len(reqs), 1, "requests for one crash; stderr:\n%s" % r.err[-1500:]):
        return
    q = reqs[0]
    ctype = q.header("Content-Type") or ""
    check(ctype.lower().startswith("multipart/form-data; boundary="),
          "Content-Type is %r, expected multipart/form-data; boundary=..." % ctype)
    try:
        parts = q.multipart()
    except ValueError as e:
        check.fail("the body is not valid multipart: %s" % e)
        return
    print("parts: %r" % [(p.name, p.headers) for p in parts])
    check.eq([p.name for p in parts], ["upload_file", "attachment_a.txt", "attachment_b.bin"],
             "part names, in order (upload_file, one per attachment basename; duplicate and "
             "missing skipped)")
    rep = btc.one_new_report(db, {}, "multipart crash")
    want = {"upload_file": ("upload_file", "application/json", rep.raw if rep else None),
            "attachment_a.txt": ("a.txt", "application/octet-stream", a_data),
            "attachment_b.bin": ("b.bin", "application/octet-stream", b_data)}
    for p in parts:
        if p.name not in want:
            continue
        filename, ctype, data = want[p.name]
        check.eq(p.disposition, "form-data", "%s Content-Disposition" % p.name)
        check.eq(p.filename, filename, "%s filename" % p.name)
        check.eq(p.content_type, ctype, "%s Content-Type" % p.name)
        check(data is None or p.data == data, "%s: bytes differ from the %s (%d vs %d bytes)%s"
              % (p.name, "stored report" if p.name == "upload_file" else "file", len(p.data),
                 len(data or b""), " - got the duplicate's content" if b"DUPLICATE" in p.data
                 else ""))
    check(b"DUPLICATE" not in q.body, "the duplicate basename's content was sent")
    if rep is None:
        return
    crash = (rep.report.get("annotations") or {}).get("Crash") or {}
    check.eq(crash.get("attachments"),
             ["attachment %s skipped: another attachment is named a.txt" % dup,
              "attachment %s skipped: No such file or directory" % missing],
             "annotations.Crash.attachments (the duplicate and the missing file noted)")
    check_state(check, rep, "sent", "multipart crash", status=200, rxid=q.rxid)
    # The state file lists the copies (name, source); they are in <uuid>.d/.
    check.eq((rep.state or {}).get("attachments"),
             [{"name": "a.txt", "source": a_txt}, {"name": "b.bin", "source": b_bin}],
             "state attachments")
    ddir = os.path.join(db, rep.uuid + ".d")
    check.eq(sorted(os.listdir(ddir)) if os.path.isdir(ddir) else None, ["a.txt", "b.bin"],
             "the copies in %s" % ddir)
    for name, data in (("a.txt", a_data), ("b.bin", b_data)):
        path = os.path.join(ddir, name)
        if os.path.isfile(path):
            with open(path, "rb") as f:
                check(f.read() == data, "copy %s differs from the original" % path)
    # Modes: database 0700, its files 0600 (DESIGN §6).
    check.eq(oct(stat.S_IMODE(os.stat(db).st_mode)), oct(0o700), "mode of the database")
    for p in all_files(db):
        want_mode = 0o700 if os.path.isdir(p) else 0o600
        check.eq(oct(stat.S_IMODE(os.lstat(p).st_mode)), oct(want_mode), "mode of %s" % p)


# ---------------------------------------------------------------------------
# Responses (DESIGN §4: only 200 is success; 400, 413 and 422 a rejection,
# kept with its status and never sent again; 429, 5xx, a wrong endpoint or
# token (401, 403, 404) and anything else pending, retried with backoff)


@pytest.mark.parametrize("status", [200, 400, 404, 429, 500, 201], ids=str)
def test_status(btc, receiver, check, db, status):
    rx = receiver("ok" if status == 200 else status)
    r = btc.crash(db, BACKTRACE_ENDPOINT=rx.url, BACKTRACE_TOKEN="tok")
    reqs = rx.snapshot()
    rep = btc.one_new_report(db, {}, "crash with HTTP %s" % status)
    if rep is not None:
        print("state after the crash: %s" % json.dumps(rep.state))
    if not check.eq(len(reqs), 1, "requests for one crash answered %d (no retry); stderr:\n%s"
                    % (status, r.err[-1500:])):
        return
    check_request_is(check, reqs[0], rep, "crash with HTTP %s" % status)
    u = rep.uuid if rep else "?"
    outcome = [ln for ln in r.err.splitlines() if ln.startswith("btcrash: report ")]
    if status == 200:
        check.eq(outcome, ["btcrash: report %s sent (rxid %s)" % (u, reqs[0].rxid)],
                 "the outcome line on stderr")
        check_state(check, rep, "sent", "HTTP 200", status=200, rxid=reqs[0].rxid)
    elif status == 400:
        check.eq(outcome, ["btcrash: report %s rejected by the server: HTTP %d" % (u, status)],
                 "the outcome line on stderr")
        check_state(check, rep, "rejected", "HTTP %d" % status, status=status,
                    error="HTTP %d" % status)
    else:
        # 404: the URL is wrong, not the report; it waits for the fix.
        hint = (" (no submission endpoint at this URL: check BACKTRACE_ENDPOINT)"
                if status == 404 else "")
        check.eq(outcome, ["btcrash: report %s kept for retry: HTTP %d%s" % (u, status, hint)],
                 "the outcome line on stderr")
        check_state(check, rep, "pending", "HTTP %d" % status, status=status,
                    error=re.escape("HTTP %d%s" % (status, hint)))
        if rep is not None:
            # Its backoff first: 30 to 60 s after the failed attempt.
            nxt = (rep.state or {}).get("next_attempt", 0)
            check(time.time() + 25 <= nxt <= time.time() + 60, "HTTP %d: next_attempt %r is "
                  "not 30 to 60 s ahead" % (status, nxt))
            n0 = len(rx.snapshot())
            w = btc.cmd(["flush"], db, BACKTRACE_ENDPOINT=rx.url, BACKTRACE_TOKEN="tok")
            check.eq((w.exitcode, rx.snapshot()[n0:]), (0, []), "HTTP %d: a flush before the "
                     "backoff is over: exit status and requests" % status)
            check(re.fullmatch(r"%s waiting: next attempt due at \d{4}-\d\d-\d\d "
                               r"\d\d:\d\d:\d\d UTC \(backoff after 1 failed attempt\)\n"
                               % rep.uuid, w.out), "HTTP %d: flush output before the backoff "
                  "is over: %r" % (status, w.out))
            backoff_over(db)
            flush_and_check(btc, check, rx, db, [rep.uuid], "flush after HTTP %d" % status,
                            BACKTRACE_TOKEN="tok")
    # Sent or rejected: a flush has nothing to send (a rejected report is
    # never retried).
    rx.set_mode("ok")
    n0 = len(rx.snapshot())
    fr = btc.cmd(["flush"], db, BACKTRACE_ENDPOINT=rx.url, BACKTRACE_TOKEN="tok")
    check.eq(fr.exitcode, 0, "exit status of a flush with nothing pending")
    check.eq(fr.out, "No pending reports in %s.\n" % db, "output of a flush with nothing pending")
    check.eq(rx.snapshot()[n0:], [], "requests sent by a flush with nothing pending")
    if status == 400 and rep is not None:
        check_state(check, reports(db).get(rep.uuid), "rejected", "after flush", status=status)


NO_BODY = [
    # (receiver mode, the note the helper prints)
    ("headers_only", "the server answered 200 but its reply did not arrive in time; "
     "counted as sent"),
    ("partial_body", "the server answered 200 but its reply was cut short; counted as sent"),
]


@pytest.mark.parametrize("mode,note", NO_BODY, ids=[m for m, _ in NO_BODY])
def test_200_without_body(btc, receiver, check, db, mode, note):
    """A server that answers "200 OK" and then never sends its body
    (headers_only: it holds the connection past the deadline) or only part
    of it (partial_body: it closes the connection) has the report: it is
    counted as sent, without an rxid, not kept for a retry that would be a
    duplicate on the server. The helper's lines say so; the crashed process
    is still dead by BACKTRACE_TIMEOUT + 0.5 s (btc.crash checks it);
    `btcrash list` shows it sent and a flush sends nothing."""
    timeout = 2.0
    rx = receiver(mode)
    r = btc.crash(db, timeout_s=timeout, what="crash against a 200 without its body (%s)" % mode,
                  BACKTRACE_ENDPOINT=rx.url, BACKTRACE_TOKEN="tok")
    print("died %.3f s after the fault; stderr:\n%s" % (r.took or -1, r.err.rstrip()))
    reqs = rx.snapshot()
    check.eq(len(reqs), 1, "requests for one crash")
    rep = btc.one_new_report(db, {}, mode)
    if rep is None:
        return
    if reqs:
        check_request_is(check, reqs[0], rep, mode)
    check_state(check, rep, "sent", mode, status=200)
    check("rxid" not in (rep.state or {}), "%s: a state without an rxid expected, got %s"
          % (mode, json.dumps(rep.state)))
    outcome = [ln for ln in r.err.splitlines() if ln.startswith("btcrash: report ")]
    check.eq(outcome, ["btcrash: report %s sent (rxid unknown)" % rep.uuid,
                       "btcrash: report %s: %s" % (rep.uuid, note)],
             "the helper's lines: sent, without an rxid, and why")
    lr = btc.cmd(["list"], db)
    rows = {cells[0]: cells for cells in list_rows(lr.out)}
    check.eq(rows.get(rep.uuid, [None, None])[1], "sent", "the report's state in `btcrash list`")
    rx.set_mode("ok")
    n0 = len(rx.snapshot())
    fr = btc.cmd(["flush"], db, BACKTRACE_ENDPOINT=rx.url, BACKTRACE_TOKEN="tok")
    check.eq(fr.out, "No pending reports in %s.\n" % db, "output of a flush afterwards")
    check.eq(rx.snapshot()[n0:], [], "requests sent by a flush afterwards (a duplicate)")


# ---------------------------------------------------------------------------
# Time bounds (DESIGN §1, §5)

BOUNDED = [
    # (id, the error the state keeps: a regular expression; {port} is the endpoint's)
    ("hang", r"Operation timed out after \d+ milliseconds with 0 bytes received"),
    ("refused", r"Failed to connect to 127\.0\.0\.1 port {port} after \d+ ms: .+"),
    ("unresolvable", r"Could not resolve host: nonexistent\.invalid"),
]


@pytest.mark.parametrize("kind,error", BOUNDED, ids=[b[0] for b in BOUNDED])
def test_bounded(btc, receiver, check, db, kind, error):
    """A hung server, a refused port, a name that does not resolve, with
    BACKTRACE_TIMEOUT=2: the crashed process dies within 2.5 s of the fault
    (btc.crash), no helper outlives the deadline, the report stays pending
    with the error and no HTTP status, and stderr says so in one line."""
    rx = receiver("hang") if kind == "hang" else None
    port = rx.port if rx else rxmod.free_port() if kind == "refused" else 9
    endpoint = rx.url if rx else "http://%s:%d/" % (
        "127.0.0.1" if kind == "refused" else "nonexistent.invalid", port)
    r = btc.crash(db, timeout_s=2.0, what="crash against %s (BACKTRACE_TIMEOUT=2)" % endpoint,
                  BACKTRACE_ENDPOINT=endpoint, BACKTRACE_TOKEN="tok")
    rep = btc.one_new_report(db, {}, kind)
    if rep is None:
        return
    print("state afterwards: %s" % json.dumps(rep.state))
    check_state(check, rep, "pending", kind, error=error.replace("{port}", str(port)))
    check.eq((rep.state or {}).get("http_status"), None, "http_status after a network error")
    check.eq([ln for ln in r.err.splitlines() if ln.startswith("btcrash: report ")],
             ["btcrash: report %s kept for retry: %s" % (rep.uuid, (rep.state or {}).get(
                 "last_error"))], "the outcome line on stderr")
    if rx is not None:
        check.eq(len(rx.snapshot()), 1, "requests the hung receiver got (the helper tried "
                 "once)")


def test_slow_helper(btc, receiver, check, db):
    """BACKTRACE_HELPER_PATH is a script that sleeps 30 s (and starts a
    sleeping child): the process still dies within timeout + 0.5 s, and the
    helper's whole process group is killed."""
    d = btc.newdir("slowhelper")
    script = os.path.join(d, "slow-helper.sh")
    with open(script, "w") as f:
        f.write("#!/bin/sh\n"
                "echo $$ > '%s/helper.pid'\n"
                "sleep 30 &\n"
                "echo $! > '%s/child.pid'\n"
                "sleep 30\n" % (d, d))
    os.chmod(script, 0o755)
    rx = receiver("ok")
    r = btc.crash(db, timeout_s=2.0, what="crash with a helper that sleeps 30 s",
                  BACKTRACE_HELPER_PATH=script, BACKTRACE_ENDPOINT=rx.url)
    pids = {}
    for n in ("helper", "child"):
        try:
            with open(os.path.join(d, n + ".pid")) as f:
                pids[n] = int(f.read().strip())
        except (OSError, ValueError):
            pass
    if not check("helper" in pids, "the slow helper script never ran (no helper.pid); "
                 "stderr:\n%s" % r.err[-1500:]):
        return
    end = time.monotonic() + 1.0
    while True:
        alive = {n: p for n, p in pids.items() if pid_alive(p)}
        if not alive or time.monotonic() > end:
            break
        time.sleep(0.02)
    check.eq(alive, {}, "processes of the slow helper's group still alive 1 s after the crashed "
             "process died (the handler must kill the helper's process group)")
    for p in alive.values():
        try:
            os.kill(p, signal.SIGKILL)
        except OSError:
            pass


# ---------------------------------------------------------------------------
# TLS


def test_tls_verify(btc, receiver, check, db):
    """A self-signed certificate is refused: nothing is sent, the report is
    pending with the certificate problem, after one handshake."""
    rx = receiver("ok", tls=True)
    r = btc.crash(db, timeout_s=3.0, what="crash against a self-signed HTTPS server",
                  BACKTRACE_ENDPOINT=rx.url, BACKTRACE_TOKEN="tok")
    print("TLS handshake failures: %r" % rx.tls_errors)
    check.eq(rx.snapshot(), [], "requests completed over TLS with an unverifiable certificate")
    rep = btc.one_new_report(db, {}, "TLS verify")
    check_state(check, rep, "pending", "TLS verify",
                error=r"SSL certificate problem: self-signed certificate")
    # The helper must have tried: a handshake that the client aborted.
    check.eq(len(rx.tls_errors), 1, "failed TLS handshakes the receiver saw (the helper tried "
             "once); stderr:\n%s" % r.err[-1500:])


def test_tls_ignore(btc, receiver, check, db):
    rx = receiver("ok", tls=True)
    r = btc.crash(db, what="crash against a self-signed HTTPS server, "
                  "BACKTRACE_IGNORE_SSL_CERTIFICATE=1", BACKTRACE_ENDPOINT=rx.url,
                  BACKTRACE_TOKEN="tok", BACKTRACE_IGNORE_SSL_CERTIFICATE="1")
    reqs = rx.snapshot()
    rep = btc.one_new_report(db, {}, "TLS ignore")
    if check.eq(len(reqs), 1, "requests over TLS; handshake failures %r; stderr:\n%s"
                % (rx.tls_errors, r.err[-1500:])):
        check_request_is(check, reqs[0], rep, "TLS ignore")
        check_state(check, rep, "sent", "TLS ignore", rxid=reqs[0].rxid)


# ---------------------------------------------------------------------------
# Debug output and secrets


def test_debug(btc, receiver, check, db):
    """BACKTRACE_DEBUG_BACKTRACE=1 shows every submission step (the URL with
    the token redacted, the status, the rxid) on the crashed program's
    stderr and in `btcrash flush`; the token is never printed, in any form,
    nor stored in the database's names or files."""
    rx = receiver("ok")
    env = dict(BACKTRACE_ENDPOINT=rx.url, BACKTRACE_TOKEN=TOKEN_SECRET,
               BACKTRACE_DEBUG_BACKTRACE="1")
    post = r"POST http://127\.0\.0\.1:%d/post\?token=REDACTED&format=json, %s bytes, " \
           r"0 attachments \(0 bytes\)"
    r = btc.crash(db, what="debug crash, HTTP 200", **env)
    rep = btc.one_new_report(db, {}, "debug crash")
    reqs = rx.snapshot()
    text = ANSI_RE.sub("", r.err)
    print("stderr:\n" + text.rstrip())
    check_no_token(check, r.err, "the crashed program's stderr (debug)")
    check(re.search("^btcrash: " + post % (rx.port, len(rep.raw) if rep else r"\d+") + "$",
                    text, re.M),
          "debug output does not show the line 'POST <the redacted URL>, <the report's size> "
          "bytes, ...'")
    if check.eq(len(reqs), 1, "requests of the debug crash"):
        check(re.search(r"^btcrash: HTTP 200 after \d+ ms, rxid %s$" % reqs[0].rxid, text,
                        re.M), "debug output does not show 'HTTP 200 after N ms, rxid %s'"
              % reqs[0].rxid)
    # A failing attempt: status and error shown, token still absent.
    rx.set_mode(500)
    r2 = btc.crash(db, what="debug crash, HTTP 500", **env)
    text2 = ANSI_RE.sub("", r2.err)
    check_no_token(check, r2.err, "the crashed program's stderr (debug, HTTP 500)")
    check(re.search(r"^btcrash: HTTP 500 after \d+ ms: will retry$", text2, re.M),
          "debug output of a 500 does not show 'HTTP 500 after N ms: will retry':\n%s"
          % "\n".join(text2.splitlines()[-15:]))
    # flush in debug mode, once the 500's backoff is over
    rx.set_mode("ok")
    backoff_over(db)
    n0 = len(rx.snapshot())
    fr = btc.cmd(["flush"], db, **env)
    ftext = ANSI_RE.sub("", fr.out + fr.err)
    print("flush (debug) output:\n" + ftext.rstrip())
    check_no_token(check, fr.out + fr.err, "`btcrash flush` output (debug)")
    new = rx.snapshot()[n0:]
    if check.eq(len(new), 1, "requests of flush (the pending report)"):
        check(re.search(r"^btcrash flush: HTTP 200 after \d+ ms, rxid %s$" % new[0].rxid,
                        ftext, re.M), "flush (debug) does not show the rxid %s" % new[0].rxid)
        check(re.search(r"^btcrash flush: " + post % (rx.port, r"\d+") + "$", ftext, re.M),
              "flush (debug) does not show the redacted URL")
    # list and show must not print it either
    for args in (["list"], ["show", next(iter(reports(db)), "x")]):
        lr = btc.cmd(args, db, **env)
        check_no_token(check, lr.out + lr.err, "`btcrash %s` output" % " ".join(args))
    # The database: file names and contents.
    for p in all_files(db):
        check_no_token(check, os.path.relpath(p, db), "a database file name")
        if os.path.isfile(p):
            with open(p, "rb") as f:
                check_no_token(check, f.read().decode("utf-8", "replace"), "database file %s" % p)


# ---------------------------------------------------------------------------
# The command (DESIGN §7)


def test_run_exit(btc, build, check, db):
    exe = build.prog("timed_null")
    for args, want in ((["run", "--", exe, "exit", "3"], 3),
                       (["run", exe, "exit", "7"], 7),
                       (["run", "--", exe, "exit", "0"], 0)):
        r = btc.cmd(args, db)
        check.eq(r.exitcode, want, "exit status of `btcrash %s`" % " ".join(args))
    r = btc.cmd(["run", "--", "/nonexistent/program"], db)
    check.eq(r.exitcode, 127, "exit status of `btcrash run` of a missing program (as shells)")
    check.eq(r.err, "btcrash run: /nonexistent/program: No such file or directory\n",
             "stderr of `btcrash run` of a missing program")


def test_run_crash(btc, build, check, db):
    """`btcrash run -- timed_null`: the program dies as it does alone (the
    same signal, the same core-dump bit), its report is stored (frames,
    classifier) and the local-mode summary is on stderr."""
    exe = build.prog("timed_null")
    base = run([exe], btc.env(btc.newdir("db-none")), btc.newdir("plain"))
    r = btc.cmd(["run", "--", exe], db)
    print("without btcrash: %s\nstderr of btcrash run:\n%s" % (base.describe(), r.err.rstrip()))
    check.eq(r.describe(), base.describe(),
             "termination of `btcrash run -- timed_null` vs the program alone")
    rep = btc.one_new_report(db, {}, "crash under btcrash run")
    if rep is None:
        return
    thr = (rep.report.get("threads") or {}).get(rep.report.get("mainThread")) or {}
    funcs = [f.get("funcName") for f in thr.get("stack") or []]
    check.eq(funcs[:4], ["level3", "level2", "level1", "main"],
             "faulting thread's frames under btcrash run")
    check.eq(rep.report.get("classifiers"), ["SIGSEGV"], "classifiers")
    lines = r.err.splitlines()
    check("btcrash: %s crashed: SIGSEGV (SEGV_MAPERR) at 0x0" % exe in lines,
          "the local-mode summary's first line is missing from stderr")
    check(any(re.fullmatch(r"  #0  level3 at \S+/timed_null\.c:%d" % src_line(build, "@fault"),
                           ln) for ln in lines),
          "the local-mode summary's frame #0 (level3 at timed_null.c) is missing from stderr")
    check("btcrash: report stored in %s" % rep.json_path in lines,
          "stderr does not say where the report is stored")


def make_three_states(btc, receiver, check, db):
    """A database with one sent, one rejected and one pending report, made by
    real crashes. Order matters: the helper retries pending reports after a
    new crash, so the pending one comes last."""
    rx = receiver("ok")
    sent = crash_into(btc, rx, db, "ok", "crash -> 200")
    rej = crash_into(btc, rx, db, 400, "crash -> 400")
    n0 = len(rx.snapshot())
    pend = crash_into(btc, rx, db, 500, "crash -> 500")
    # The helper may retry pending reports after a crash, never rejected ones.
    for q in rx.snapshot()[n0:]:
        check(rej is None or uuid_of(check, q, "retry") != rej.uuid,
              "the helper re-sent the rejected report after a later crash")
    check_state(check, sent, "sent", "crash -> 200")
    check_state(check, rej, "rejected", "crash -> 400", status=400)
    check_state(check, pend, "pending", "crash -> 500", status=500)
    return rx, sent, rej, pend


def test_list(btc, build, receiver, check, db):
    """One row per report, oldest first: ID, state ("rejected (400)"), the
    crash's local time, application, signal, top frame; an empty or missing
    database: one sentence, exit 0."""
    _, sent, rej, pend = make_three_states(btc, receiver, check, db)
    r = btc.cmd(["list"], db)
    print("btcrash list:\n" + r.out.rstrip())
    check.eq(r.exitcode, 0, "exit status of `btcrash list`")
    rows = {cells[0]: cells for cells in list_rows(r.out)}
    check.eq([cells[0] for cells in list_rows(r.out)], [rep.uuid for rep in sorted(
        (rep for rep in (sent, rej, pend) if rep),
        key=lambda rep: (rep.report["timestamp"], rep.uuid))],
        "the rows' IDs, oldest first (by timestamp, then uuid)")
    frame = "level3 at %s/timed_null.c:%d" % (build.src, src_line(build, "@fault"))
    # A failed attempt puts the next one off (its backoff): the row says when.
    due = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(
        ((pend.state or {}).get("next_attempt", 0)) if pend else 0))
    for rep, state in ((sent, "sent"), (rej, "rejected (400)"),
                       (pend, "pending (next %s)" % due)):
        if rep is None or rep.uuid not in rows:
            continue
        when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(rep.report["timestamp"]))
        check.eq(rows[rep.uuid], [rep.uuid, state, when, "timed_null", "SIGSEGV", frame],
                 "list row of the %s report (ID, STATE, TIME, APPLICATION, SIGNAL, TOP FRAME)"
                 % state)
    # Empty and missing databases: no table, exit 0.
    empty = btc.newdir("emptydb")
    os.chmod(empty, 0o700)
    for d, out in ((empty, "No reports in the crash database %s.\n"),
                   (os.path.join(btc.newdir("x"), "no-such-db"),
                    "No reports: the crash database %s does not exist yet.\n")):
        r = btc.cmd(["list"], d)
        check.eq((r.exitcode, r.out), (0, out % d), "exit status and output of `btcrash list` "
                 "on %s" % os.path.basename(d))


def test_flush(btc, receiver, check, db):
    """Two pending reports; flush against a failing receiver keeps them
    pending with a line each and exits 1; against a healthy receiver it
    sends each once and prints one line per report; an empty database
    flushes cleanly; without an endpoint flush says so and exits 1."""
    rx = receiver(500)
    p1 = crash_into(btc, rx, db, 500, "crash 1 -> 500")
    p2 = crash_into(btc, rx, db, 503, "crash 2 -> 503")
    check_state(check, p1, "pending", "crash 1 -> 500")
    check_state(check, p2, "pending", "crash 2 -> 503", status=503)
    # Still failing once their backoff is over: flush keeps them pending,
    # with a line each.
    backoff_over(db)
    n0 = len(rx.snapshot())
    rx.set_mode(500)
    fr = btc.cmd(["flush"], db, BACKTRACE_ENDPOINT=rx.url, BACKTRACE_TOKEN="tok")
    print("flush against a failing receiver: %s\n%s" % (fr.describe(), (fr.out + fr.err).rstrip()))
    check.eq(len(rx.snapshot()) - n0, 2, "requests of a flush with 2 pending reports (500)")
    check.eq(fr.exitcode, 1, "exit status of a flush that left reports pending")
    after = reports(db)
    for rep in (p1, p2):
        if rep is None:
            continue
        check_state(check, after.get(rep.uuid), "pending", "after a failing flush", status=500,
                    error="HTTP 500")
        check.eq([ln for ln in (fr.out + fr.err).splitlines() if rep.uuid in ln],
                 ["%s still pending: HTTP 500" % rep.uuid],
                 "lines of the failing flush naming %s" % rep.uuid)
    if p1 is not None and p2 is not None:
        flush_and_check(btc, check, rx, db, [p1.uuid, p2.uuid], "flush of 2 pending reports",
                        BACKTRACE_TOKEN="tok")
    # Nothing pending
    empty = btc.newdir("emptydb")
    os.chmod(empty, 0o700)
    r = btc.cmd(["flush"], empty, BACKTRACE_ENDPOINT=rx.url)
    check.eq((r.exitcode, r.out), (0, "No pending reports in %s.\n" % empty),
             "exit status and output of flush on an empty database")
    # No endpoint: cannot flush; must say so, not claim success.
    db2 = os.path.join(btc.newdir("db2"), "db")
    p3 = crash_into(btc, receiver(500), db2, 500, "crash 3 -> 500")
    r = btc.cmd(["flush"], db2)
    check.eq((r.exitcode, r.err), (1, "btcrash flush: no endpoint configured: set "
                                      "BACKTRACE_ENDPOINT (and BACKTRACE_TOKEN if it needs one); "
                                      "nothing was sent\n"),
             "exit status and stderr of flush with pending reports and no BACKTRACE_ENDPOINT")
    check_state(check, reports(db2).get(p3.uuid) if p3 else None, "pending",
                "flush without endpoint")


def test_show(btc, build, receiver, check, db):
    """`btcrash show ID` and `show FILE`: the error, the crashed thread with
    each frame at file:line, the faulting source line marked (and only it),
    the attributes, the state; no such report: exit 1 and why."""
    rep = crash_into(btc, receiver("ok"), db, "ok", "crash to show")
    if rep is None:
        return
    tid = rep.report.get("mainThread")
    exe = build.prog("timed_null")
    rxid = (rep.state or {}).get("rxid")
    for arg in (rep.uuid, rep.json_path):
        r = btc.cmd(["show", arg], db)
        text = ANSI_RE.sub("", r.out)
        what = "`btcrash show %s`" % arg
        check.eq(r.exitcode, 0, "exit status of " + what)

        def has(pattern, msg):
            check(re.search(pattern, text, re.M), "%s: %s" % (what, msg))

        has(r"^  %s crashed: SIGSEGV \(SEGV_MAPERR\) at 0x0$" % re.escape(exe), "no error line")
        has(r'^Thread %s "timed_null" \(crashed\)$' % tid, "no crashed thread %s" % tid)
        for i, (func, marker) in enumerate((("level3", "@fault"), ("level2", "@call2"),
                                            ("level1", "@call1"), ("main", "@main"))):
            loc = "timed_null.c:%d" % src_line(build, marker)
            has(r"^  #%d  0x[0-9a-f]+ %s at \S+/%s$" % (i, func, re.escape(loc)),
                "no frame #%d %s at %s" % (i, func, loc))
        n = src_line(build, "@fault")
        has(r"^>\s+%d  \s*\*p = 42; /\* @fault \*/$" % n, "the faulting source line %d "
            "(*p = 42;) is not shown with the marker '>'" % n)
        check.eq([ln for ln in text.splitlines()
                  if re.search(r"^\s*(>|=>|\u2192|-->)\s*%d\b" % (n - 1), ln)], [],
                 "%s: the line above the fault is marked too" % what)
        has(r"^  error\.message = SIGSEGV \(SEGV_MAPERR\) at 0x0$", "attribute error.message")
        has(r"^State\n  sent \(HTTP 200\)\n  attempts: 1\n  rxid: %s$" % re.escape(str(rxid)),
            "the state (sent (HTTP 200), attempts, rxid)")
    nope, none = os.path.join(db, "nope.json"), "00000000-0000-4000-8000-000000000000"
    for bad, err in ((none, "btcrash show: no report %s in the crash database %s\n" % (none, db)),
                     (nope, "btcrash show: %s: No such file or directory\n" % nope)):
        r = btc.cmd(["show", bad], db)
        check.eq((r.exitcode, r.err), (1, err),
                 "exit status and stderr of `btcrash show %s` (no such report)" % bad)


def test_cli_args(btc, check, db):
    """--help on stdout, exit 0; bad arguments: exit 2, what is wrong and the
    usage on stderr."""
    r = btc.cmd(["--help"], db)
    check.eq(r.exitcode, 0, "exit status of `btcrash --help`")
    check(r.out.startswith("usage: btcrash COMMAND [ARGS...]\n"), "--help (stdout) does not "
          "start with the usage:\n" + r.out)
    for word in ("run", "list", "show", "flush"):
        check(re.search(r"^  %s\b" % word, r.out, re.M), "--help (stdout) does not list %r:\n%s"
              % (word, r.out))
    for args, first in (([], "usage: btcrash COMMAND [ARGS...]"),
                        (["bogus"], "btcrash: unknown command 'bogus'"),
                        (["run"], "btcrash run: no PROGRAM to run"),
                        (["run", "--"], "btcrash run: no PROGRAM to run"),
                        (["show"], "btcrash show: which report? give an ID or a FILE"),
                        (["list", "--bogus"], "btcrash list: unknown option '--bogus'"),
                        (["flush", "--bogus"], "btcrash flush: unknown option '--bogus'"),
                        (["show", "a", "b"], "btcrash show: one report at a time ('b' is extra)")):
        r = btc.cmd(args, db)
        what = "`btcrash %s` (bad arguments)" % " ".join(args)
        check.eq(r.exitcode, 2, "exit status of " + what)
        check.eq(r.err.splitlines()[:1], [first], "first line on stderr of " + what)
        check(re.search(r"^usage: btcrash", r.err, re.M), "%s: no usage on stderr" % what)


def test_signal_with_endpoint(btc, build, receiver, check, tmp_path):
    """With an endpoint (accepted, failing, hung) the crashed program still
    dies of SIGSEGV (btc.crash), core-dump bit as without btcrash."""
    base = run([build.prog("timed_null")], btc.env(str(tmp_path / "db-none")),
               btc.newdir("plain"))
    for mode in ("ok", 500, "hang"):
        rx = receiver(mode)
        r = btc.crash(str(tmp_path / ("db-%s" % mode)), timeout_s=2.0,
                      what="crash with endpoint in mode %s" % mode,
                      BACKTRACE_ENDPOINT=rx.url, BACKTRACE_TOKEN="tok")
        check.eq(r.describe(), base.describe(), "termination with endpoint (%s) vs without "
                 "btcrash (signal, core-dump bit)" % mode)


def test_run_signals(btc, build, check, db):
    """`btcrash run` passes any termination through: SIGABRT from abort(),
    SIGTERM sent to the program, exit 255, and its arguments as given."""
    for argv, want in (([build.prog("abort_call")], ("sig", signal.SIGABRT)),
                       (["/bin/sh", "-c", "kill -TERM $$"], ("sig", signal.SIGTERM)),
                       (["/bin/sh", "-c", "exit 255"], ("exit", 255)),
                       (["/bin/sh", "-c", 'test "$1" = "a b" && test "$2" = "" && exit 4', "sh",
                         "a b", ""], ("exit", 4))):
        r = btc.cmd(["run", "--"] + argv, db)
        got = ("sig", r.termsig) if r.termsig is not None else ("exit", r.exitcode)
        check.eq(got, want, "termination of `btcrash run -- %s`" % " ".join(argv))


# ---------------------------------------------------------------------------
# The backlog (DESIGN §6), attachment copies (db.h)


def test_helper_retry_backlog(btc, receiver, check, db):
    """DESIGN §6: pending reports are retried by the helper after it has
    handled a new crash, if time is left: the new one first."""
    rx = receiver(500)
    old = crash_into(btc, rx, db, 500, "crash 1 -> 500")
    check_state(check, old, "pending", "crash 1 -> 500", status=500)
    n0 = len(rx.snapshot())
    rx.set_mode("ok")
    # The next crash comes after the first one's backoff.
    backoff_over(db)
    before = reports(db)
    r = btc.crash(db, what="crash 2 -> 200", BACKTRACE_ENDPOINT=rx.url, BACKTRACE_TOKEN="tok")
    new = btc.one_new_report(db, before, "crash 2 -> 200")
    uuids = [uuid_of(check, q, "backlog") for q in rx.snapshot()[n0:]]
    if new is None or old is None:
        return
    check.eq(uuids, [new.uuid, old.uuid], "reports sent after crash 2: the new crash's first, "
             "then the pending one (DESIGN §6)")
    check("btcrash: 1 older report: 1 sent, 0 rejected, 0 kept for retry" in r.err.splitlines(),
          "stderr of crash 2 does not say the older report was sent:\n" + r.err[-1500:])
    after = reports(db)
    check_state(check, after.get(old.uuid), "sent", "backlog report after crash 2")
    check_state(check, after.get(new.uuid), "sent", "crash 2")


def test_hang_backlog(btc, receiver, check, db):
    """A hung server and three pending reports in the database: the crashed
    process still dies within timeout + 0.5 s, and no helper goes on past the
    deadline (btc.crash fails the test if one does)."""
    rx = receiver(500)
    for i in range(3):
        crash_into(btc, rx, db, 500, "backlog crash %d -> 500" % (i + 1))
    rx.set_mode("hang")
    before = reports(db)
    btc.crash(db, timeout_s=2.0, what="crash against a hung server with 3 pending reports",
              BACKTRACE_ENDPOINT=rx.url, BACKTRACE_TOKEN="tok")
    rep = btc.one_new_report(db, before, "hang with backlog")
    check_state(check, rep, "pending", "hang with backlog")
    check.eq(sorted(r.state_name for r in reports(db).values()), ["pending"] * 4,
             "states of the 4 reports")


def test_flush_hang(btc, receiver, check, db):
    """`btcrash flush` against a hung server gives each report at most the
    timeout (DESIGN §7), prints a line for each, and keeps them pending."""
    rx = receiver(500)
    p1 = crash_into(btc, rx, db, 500, "crash 1 -> 500")
    p2 = crash_into(btc, rx, db, 500, "crash 2 -> 500")
    rx.set_mode("hang")
    backoff_over(db)
    t0 = time.monotonic()
    r = btc.cmd(["flush"], db, BACKTRACE_ENDPOINT=rx.url, BACKTRACE_TOKEN="tok",
                BACKTRACE_TIMEOUT="1")
    took = time.monotonic() - t0
    print("flush against a hung server, BACKTRACE_TIMEOUT=1, 2 pending: %s in %.2f s\n%s" % (
        r.describe(), took, (r.out + r.err).rstrip()))
    check(took <= 2 * 1.0 + 1.0, "flush of 2 reports against a hung server took %.2f s; at most "
          "the timeout (1 s) per report (+1 s slack) expected" % took)
    after = reports(db)
    for rep in (p1, p2):
        if rep is None:
            continue
        timed_out = r"Operation timed out after \d+ milliseconds with 0 bytes received"
        check_state(check, after.get(rep.uuid), "pending", "after a hung flush", error=timed_out)
        lines = [ln for ln in (r.out + r.err).splitlines() if rep.uuid in ln]
        check(len(lines) == 1 and re.fullmatch(re.escape(rep.uuid) + " still pending: "
                                               + timed_out, lines[0]),
              "the lines of the hung flush naming %s: %r" % (rep.uuid, lines))
    check.eq(r.exitcode, 1, "exit status of a flush that sent nothing")


def test_attachment_snapshot(btc, receiver, check, db):
    """The attachment is copied at crash time (db.h): a later flush sends
    what the file held then, even after it changed or was deleted."""
    d = btc.newdir("att")
    a, b = os.path.join(d, "state.log"), os.path.join(d, "gone.bin")
    a_data, b_data = b"at crash time\n" * 50, os.urandom(3000)
    for path, data in ((a, a_data), (b, b_data)):
        with open(path, "wb") as f:
            f.write(data)
    rx = receiver(500)
    rep = crash_into(btc, rx, db, 500, "crash with attachments -> 500",
                     BACKTRACE_ATTACHMENTS="%s:%s" % (a, b))
    if rep is None:
        return
    with open(a, "wb") as f:
        f.write(b"CHANGED AFTER THE CRASH\n")
    os.unlink(b)
    sent = flush_and_check(btc, check, rx, db, [rep.uuid], "flush with attachments",
                           BACKTRACE_TOKEN="tok")
    if rep.uuid not in sent:
        return
    parts = {p.name: p.data for p in sent[rep.uuid].multipart()}
    check.eq(sorted(parts), ["attachment_gone.bin", "attachment_state.log", "upload_file"],
             "parts sent by flush")
    for name, data in (("attachment_state.log", a_data), ("attachment_gone.bin", b_data)):
        got = parts.get(name)
        check(got is None or got == data, "%s sent by flush (%d bytes) is not the crash-time "
              "content (%d bytes)%s" % (name, len(got or b""), len(data), " - it is the "
                                        "changed file" if b"CHANGED" in (got or b"") else ""))


def test_attachment_cut(btc, receiver, check, db):
    """db.h: a copied attachment larger than 16 MiB is cut there, and the
    report says so."""
    limit = 16 * 1024 * 1024
    big = os.path.join(btc.newdir("att"), "big.bin")
    chunk = os.urandom(1 << 20)
    with open(big, "wb") as f:
        for _ in range(16):
            f.write(chunk)
        f.write(b"TAIL-BEYOND-THE-LIMIT" * 10)
    rx = receiver("ok")
    rep = crash_into(btc, rx, db, "ok", "crash with a 16 MiB + 210 B attachment",
                     BACKTRACE_ATTACHMENTS=big)
    reqs = rx.snapshot()
    if not check.eq(len(reqs), 1, "requests for one crash"):
        return
    parts = {p.name: p for p in reqs[0].multipart()}
    p = parts.get("attachment_big.bin")
    if check(p is not None, "no attachment_big.bin part: %r" % list(parts)):
        check.eq(len(p.data), limit, "length of the cut attachment part")
        check(p.data == chunk * 16, "the first 16 MiB of the attachment differ")
    if rep is not None:
        check.eq(((rep.report.get("annotations") or {}).get("Crash") or {}).get("attachments"),
                 ["attachment %s cut at %d bytes" % (big, limit)],
                 "annotations.Crash.attachments (says big.bin was cut)")


def test_orphan_state(btc, receiver, check, db):
    """db.h: a report without a state file is pending, made for no known
    endpoint: `flush` leaves it alone and says so, `flush --local` sends it;
    temporary files (names starting with '.') are skipped; a corrupt state
    file does not break list, which repairs it and says so."""
    rx = receiver(500)
    a = crash_into(btc, rx, db, 500, "crash A -> 500")
    b = crash_into(btc, rx, db, 500, "crash B -> 500")
    if a is None or b is None:
        return
    os.unlink(a.state_path)
    with open(os.path.join(db, ".%s.json.tmp" % b.uuid), "wb") as f:
        f.write(b'{"uuid": "half a rep')
    r = btc.cmd(["list"], db)
    print("list:\n" + (r.out + r.err).rstrip())
    check.eq(r.exitcode, 0, "exit status of list with a report without a state file")
    check.eq(sorted(c[0] for c in list_rows(r.out)), sorted([a.uuid, b.uuid]),
             "the rows' IDs (one per report, none for the temporary file)")
    rows = {cells[0]: cells for cells in list_rows(r.out)}
    check.eq(rows.get(a.uuid, [None] * 2)[1], "pending",
             "list: the state of a report without a state file")
    check(".json.tmp" not in r.out and "half" not in r.out, "list shows a temporary file")
    n0 = len(rx.snapshot())
    rx.set_mode("ok")
    backoff_over(db)
    r = btc.cmd(["flush"], db, BACKTRACE_ENDPOINT=rx.url, BACKTRACE_TOKEN="tok")
    print("flush:\n" + r.out.rstrip())
    check.eq([uuid_of(check, q, "flush") for q in rx.snapshot()[n0:]], [b.uuid],
             "flush sends B (made for this endpoint), not A (no state file: made for no known "
             "endpoint)")
    check("%s skipped: made in local mode or for no known endpoint; 'btcrash flush --local' "
          "sends it here" % a.uuid in r.out.splitlines(),
          "flush does not say it skipped A, and why:\n" + r.out)
    flush_and_check(btc, check, rx, db, [a.uuid], "flush --local with a missing state file",
                    BACKTRACE_TOKEN="tok", args=["flush", "--local"])
    # A corrupt state file: list still works, shows the other reports, and
    # repairs it (moved aside; the report pending again).
    with open(b.state_path, "wb") as f:
        f.write(b"not json{")
    r = btc.cmd(["list"], db)
    print("list with a corrupt state file: %s\n%s" % (r.describe(), (r.out + r.err).rstrip()))
    check.eq(r.exitcode, 0, "exit status of list with a corrupt state file")
    check.eq(sorted(c[0] for c in list_rows(r.out)), sorted([a.uuid, b.uuid]),
             "the rows' IDs with a corrupt state file")
    rows = {cells[0]: cells for cells in list_rows(r.out)}
    check.eq(rows.get(a.uuid, [None] * 2)[1], "sent", "list with a corrupt state file of "
             "another report: the state of the sent report")
    check.eq(rows.get(b.uuid, [None] * 2)[1], "pending", "list: the state of the report whose "
             "state file was corrupt (repaired: pending)")
    check.eq(r.err, "btcrash list: report {0}: {0}.state is not valid; moved aside to "
             "{0}.state.corrupt; the report is pending again, made for no known endpoint\n"
             .format(b.uuid), "what list says of the corrupt state file")
    check(os.path.exists(b.state_path + ".corrupt"), "the corrupt state was not moved aside")


# ---------------------------------------------------------------------------
# Concurrency


def test_concurrent_crashes(btc, build, receiver, check, db):
    """Four processes crash at once into one database, against a receiver
    that answers after 0.4 s: each report reaches the server exactly once
    (a helper retrying the backlog must not re-send a report another helper
    is sending), and all end sent."""
    rx = receiver("ok", delay=0.4)
    env = btc.env(db, LD_PRELOAD=build.lib, BACKTRACE_ENDPOINT=rx.url, BACKTRACE_TOKEN="tok")
    procs = [subprocess.Popen([build.prog("timed_null")], env=env, cwd=btc.newdir("cwd"),
                              stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                              stderr=subprocess.PIPE, start_new_session=True) for _ in range(4)]
    for p in procs:
        try:
            p.communicate(timeout=RUN_TIMEOUT)
        except subprocess.TimeoutExpired:
            os.killpg(p.pid, signal.SIGKILL)
            p.communicate()
            check.fail("HANG: a concurrently crashing process did not die within %d s"
                       % RUN_TIMEOUT)
            continue
        check.eq(p.returncode, -signal.SIGSEGV, "termination of a concurrently crashing process")
    btc.wait_helpers(db, time.monotonic() + DEFAULT_TIMEOUT_S, "concurrent crashes")
    time.sleep(0.5)  # answers still in flight
    uuids = [uuid_of(check, q, "concurrent") for q in rx.snapshot()]
    reps = reports(db)
    print("reports %d, uuids sent: %r" % (len(reps), uuids))
    check.eq(len(reps), 4, "reports stored by 4 concurrent crashes")
    check.eq(sorted({u for u in uuids if uuids.count(u) > 1}), [],
             "reports sent more than once by concurrent helpers (duplicates on the server)")
    check.eq(sorted(set(uuids)), sorted(reps), "the set of reports the receiver got")
    for u, rep in reps.items():
        check_state(check, rep, "sent", "concurrent crash %s" % u)


def test_concurrent_flush(btc, build, receiver, check, db):
    """Two `btcrash flush` at once over three pending reports, against a
    receiver that answers after 0.3 s: each report is sent exactly once."""
    rx = receiver(500)
    pend = [crash_into(btc, rx, db, 500, "crash %d -> 500" % i) for i in (1, 2, 3)]
    rx.set_mode("ok")
    rx.delay = 0.3
    backoff_over(db)
    n0 = len(rx.snapshot())
    env = btc.env(db, BACKTRACE_ENDPOINT=rx.url, BACKTRACE_TOKEN="tok")
    procs = [subprocess.Popen([build.helper, "flush"], env=env, stdin=subprocess.DEVNULL,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              start_new_session=True) for _ in range(2)]
    for p in procs:
        try:
            out, _ = p.communicate(timeout=RUN_TIMEOUT)
            print("flush (%d):\n%s" % (p.returncode, out.decode("utf-8", "replace").rstrip()))
        except subprocess.TimeoutExpired:
            os.killpg(p.pid, signal.SIGKILL)
            p.communicate()
            check.fail("HANG: a concurrent flush did not finish within %d s" % RUN_TIMEOUT)
    uuids = [uuid_of(check, q, "concurrent flush") for q in rx.snapshot()[n0:]]
    check.eq(sorted({u for u in uuids if uuids.count(u) > 1}), [],
             "reports sent more than once by two concurrent flushes")
    check.eq(sorted(set(uuids)), sorted(r.uuid for r in pend if r), "reports sent")
    after = reports(db)
    for r in pend:
        if r is not None:
            check_state(check, after.get(r.uuid), "sent", "after two concurrent flushes")
