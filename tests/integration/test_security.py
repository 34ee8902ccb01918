#!/usr/bin/env python3
"""Integration tests of the crash database's and the uploader's trust
(DESIGN.md §1 "Nothing untrusted is believed", §6 Trust; issue 8), as a
hostile local user and a hostile server would try them.

Each case crashes progs/timed_null under LD_PRELOAD=libbtcrash.so, or runs
the `btcrash` command, against local receivers (receiver.py), and checks
what reached the receivers, the database and the terminal. CI runs as
root: the cases that need a second user chown to uid 65534 (nobody), and
are skipped (exit 77) when not run as root.

The harness (T, run, reports) is test_delivery.py's.

Usage: test_security.py --lib L --helper H --progs DIR --src DIR CASE
       test_security.py ... --list
"""

import json
import os
import re
import shutil
import signal
import subprocess
import time

import pytest

from conftest import all_files, backoff_over, reports, uploads

pytestmark = pytest.mark.security

NOBODY = 65534
SECRET = "Zq9Secret0tok"
ESC_RE = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]|\xc2[\x80-\x9f]|[\x80-\x9f]")


def need_root():
    if os.geteuid() != 0:
        pytest.skip("needs root (chown to uid %d)" % NOBODY)


def plant_report(db, uuid, state, report=None, owner=None):
    """A report and state file someone else wrote into @db."""
    rep = report if report is not None else {
        "uuid": uuid, "timestamp": 1000, "attributes": {"application": "planted"},
        "classifiers": ["SIGSEGV"], "threads": {}}
    with open(os.path.join(db, uuid + ".json"), "w") as f:
        json.dump(rep, f)
    with open(os.path.join(db, uuid + ".state"), "w") as f:
        f.write(state if isinstance(state, str) else json.dumps(state))
    if owner is not None:
        for name in (uuid + ".json", uuid + ".state"):
            os.chown(os.path.join(db, name), owner, owner)


def snapshot(root):
    """path -> (mode, uid, bytes) of everything under @root."""
    out = {}
    for p in list(all_files(root)) + [root]:
        st = os.lstat(p)
        data = None
        if os.path.isfile(p) and not os.path.islink(p):
            with open(p, "rb") as f:
                data = f.read()
        out[p] = (st.st_mode, st.st_uid, data)
    return out


def check_terminal_safe(check, text, what):
    """No control character but newline and tab in @text, and no line a
    server could have forged."""
    m = ESC_RE.search(text)
    check(m is None, "%s: a raw control character %r reached the terminal: ...%r..." % (
        what, m.group(0) if m else "", text[max(0, m.start() - 60):m.end() + 60] if m else ""))
    check(not re.search(r"^btcrash: forged", text, re.M),
              "%s: a server's text made a line of its own: %r" % (what, text[-800:]))


def planted_fallback(btc, receiver, check, tmp_path, local):
    """The /tmp/btcrash-$UID fallback (HOME and XDG_STATE_HOME unset) exists,
    made by another user (mode 0755), with a pending report whose state names
    a root-only file as an attachment. Our crash: nothing of it is sent,
    nothing is written there, our own crash is still reported (sent from
    memory; in local mode printed and said to be unstored), and one line on
    stderr says why the directory was not used."""
    need_root()
    fallback = "/tmp/btcrash-%d" % os.geteuid()
    saved = None
    if os.path.lexists(fallback):
        saved = fallback + ".saved-by-test-%d" % os.getpid()
        os.rename(fallback, saved)
    secret = str(tmp_path / "root-only")
    with open(secret, "w") as f:
        f.write("root:the-shadow-line\n")
    os.chmod(secret, 0o600)
    try:
        os.mkdir(fallback, 0o755)
        os.chmod(fallback, 0o755)
        planted = "aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee"
        plant_report(fallback, planted, {
            "state": "pending", "mode": "endpoint",
            "attachments": [{"name": "root-only", "path": secret}]}, owner=NOBODY)
        os.chown(fallback, NOBODY, NOBODY)
        before = snapshot(fallback)
        rx = receiver("ok")
        env = dict(HOME=None, XDG_STATE_HOME=None, BACKTRACE_DATABASE_PATH=None)
        if not local:
            env.update(BACKTRACE_ENDPOINT=rx.url, BACKTRACE_TOKEN="tok")
        r = btc.crash(str(tmp_path / "unused"), what="crash with a planted fallback", **env)
        print("stderr:\n" + r.err.rstrip())
        check.eq(snapshot(fallback), before, "the planted directory after our crash (nothing "
               "written there, nothing changed)")
        why = [ln for ln in r.err.splitlines() if fallback in ln]
        check.eq(len(why), 1, "lines on stderr naming %s (one, saying why it is not used)"
               % fallback)
        if why:
            check("uid %d" % NOBODY in why[0] and "not to uid %d" % os.geteuid() in why[0],
                      "the line says whose the directory is: %r" % why[0])
        reqs = rx.snapshot()
        sent = uploads(check, reqs, "planted fallback")
        for _, parts in sent.values():
            for name, data in parts.items():
                check(b"the-shadow-line" not in data,
                          "the root-only file was uploaded (part %s)" % name)
        check(planted not in sent, "the planted report was uploaded")
        if local:
            check.eq(reqs, [], "requests in local mode")
            check("the report could not be stored" in r.err,
                      "local mode: the summary does not say the report is unstored")
            # The whole report is printed: its threads and its attributes.
            check("Attributes" in r.err or "attributes" in r.err,
                      "local mode: the unstored report is not printed on stderr")
        else:
            check.eq(len(reqs), 1, "requests: our crash, sent from memory, and nothing else")
            check(re.search(r"report \S+ sent", r.err), "our crash was not sent")
    finally:
        shutil.rmtree(fallback, ignore_errors=True)
        if saved:
            os.rename(saved, fallback)


@pytest.mark.parametrize("local", [False, True], ids=["endpoint", "local"])
def test_planted_fallback(btc, receiver, check, tmp_path, local):
    planted_fallback(btc, receiver, check, tmp_path, local)


def test_fallback_created(btc, check, tmp_path):
    """A missing /tmp/btcrash-$UID is created 0700 and used."""
    fallback = "/tmp/btcrash-%d" % os.geteuid()
    saved = None
    if os.path.lexists(fallback):
        saved = fallback + ".saved-by-test-%d" % os.getpid()
        os.rename(fallback, saved)
    try:
        btc.crash(str(tmp_path / "unused"), what="crash with no fallback yet", HOME=None,
                XDG_STATE_HOME=None, BACKTRACE_DATABASE_PATH=None)
        st = os.lstat(fallback)
        check.eq(oct(st.st_mode & 0o7777), oct(0o700), "mode of the created %s" % fallback)
        check.eq(st.st_uid, os.geteuid(), "owner of the created %s" % fallback)
        check.eq(len(reports(fallback)), 1, "reports stored in the created %s" % fallback)
    finally:
        shutil.rmtree(fallback, ignore_errors=True)
        if saved:
            os.rename(saved, fallback)


def test_untrusted_dirs(btc, receiver, check, tmp_path):
    """BACKTRACE_DATABASE_PATH that is a symbolic link to our own good
    directory, our own directory writable by others (0777, 0770), or one
    owned by another user (0700): never used, one line says why, the report
    is sent from memory. `btcrash list` and `flush` refuse them too."""
    rx = receiver("ok")
    good = btc.newdir("good")
    os.chmod(good, 0o700)
    link = str(tmp_path / "link")
    os.symlink(good, link)
    wide = btc.newdir("wide")
    os.chmod(wide, 0o777)
    group = btc.newdir("group")
    os.chmod(group, 0o770)
    dirs = [(link, "symbolic link"), (wide, "mode 0777"), (group, "mode 0770")]
    if os.geteuid() == 0:
        foreign = btc.newdir("foreign")
        os.chmod(foreign, 0o700)
        os.chown(foreign, NOBODY, NOBODY)
        dirs.append((foreign, "uid %d" % NOBODY))
    for db, words in dirs:
        before = snapshot(db)
        n0 = len(rx.snapshot())
        r = btc.crash(db, what="crash into %s" % words, BACKTRACE_ENDPOINT=rx.url,
                    BACKTRACE_TOKEN="tok")
        lines = [ln for ln in r.err.splitlines() if "could not store" in ln]
        check(len(lines) == 1 and words in lines[0],
                  "%s: one line says why the database is not used (%r): %r"
                  % (db, words, lines))
        check.eq(len(rx.snapshot()) - n0, 1, "%s: our report, sent from memory" % words)
        check.eq(snapshot(db), before, "%s: nothing written into it" % words)
        check.eq(os.listdir(good), [], "%s: nothing written through the link" % words)
        for args in (["list"], ["flush"]):
            c = btc.cmd(args, db, BACKTRACE_ENDPOINT=rx.url)
            check(c.exitcode == 1 and words in c.err,
                      "`btcrash %s` on %s: exit 1 and says why (%r): %s\n%s"
                      % (" ".join(args), words, words, c.describe(), c.err))


def test_planted_files(btc, receiver, check, tmp_path):
    """Inside our own database: a report file that is a symbolic link, an
    attachment copy that is a symbolic link to a root-only file, and state
    files naming paths outside <uuid>.d/ (the old "path" member, a name with
    '/', ".."). None of those files is ever uploaded; flush names each one
    left out, and sends the rest."""
    rx = receiver("ok")
    db = str(tmp_path / "db")
    secret = str(tmp_path / "root-only")
    with open(secret, "w") as f:
        f.write("the-shadow-line\n")
    os.chmod(secret, 0o600)
    btc.crash(db, what="first crash (makes the database)")
    own = next(iter(reports(db)))
    # 1. A report that is a symlink to a file that looks like a report.
    lure = str(tmp_path / "lure.json")
    link_uuid = "11111111-2222-4333-8444-555555555555"
    with open(lure, "w") as f:
        json.dump({"uuid": link_uuid, "secret": "the-shadow-line"}, f)
    os.symlink(lure, os.path.join(db, link_uuid + ".json"))
    # 2. A copy that is a symlink, and 3. paths outside the copies.
    paths_uuid = "66666666-7777-4888-9999-000000000000"
    plant_report(db, paths_uuid, {"state": "pending", "attachments": [
        {"name": "copy-link"},
        {"name": "shadow", "path": secret},
        {"name": "../../" + os.path.basename(secret)},
        {"name": "real.log", "path": "/etc/passwd"},
        {"name": "good.log"}]})
    # The state must be made for this endpoint to be sent at all.
    with open(os.path.join(db, own + ".state")) as f:
        own_state = json.load(f)
    check.eq(own_state.get("mode"), "local", "state of a local-mode report: mode")
    d = os.path.join(db, paths_uuid + ".d")
    os.mkdir(d, 0o700)
    os.symlink(secret, os.path.join(d, "copy-link"))
    with open(os.path.join(d, "good.log"), "w") as f:
        f.write("good copy\n")
    with open(os.path.join(d, "real.log"), "w") as f:
        f.write("real copy\n")
    r = btc.cmd(["flush", "--local"], db, BACKTRACE_ENDPOINT=rx.url)
    print("flush --local:\n" + (r.out + r.err).rstrip())
    sent = uploads(check, rx.snapshot(), "planted files")
    check(link_uuid not in sent, "the symlinked report was uploaded")
    for u, (_, parts) in sent.items():
        for name, data in parts.items():
            check(b"the-shadow-line" not in data,
                      "report %s: a file outside the database was uploaded as %s" % (u, name))
    if check(paths_uuid in sent, "the report with planted paths was not sent at all"):
        names = sorted(n for n in sent[paths_uuid][1] if n != "upload_file")
        check.eq(names, ["attachment_good.log"], "attachment parts of the planted-paths report "
               "(only its own regular copy good.log; real.log is named by a state entry "
               "whose path is elsewhere)")
    notes = [ln for ln in r.out.splitlines() if ln.startswith(paths_uuid) and "not sent" in ln]
    check(len(notes) == 1 and all(w in notes[0] for w in
                                      ("copy-link", "shadow", "real.log", "outside")),
              "flush names each attachment it left out, and why: %r" % notes)
    check(re.search(re.escape(link_uuid) + r".*symbolic link; moved aside", r.err),
              "flush does not say the symlinked report was moved aside, and why:\n" + r.err)
    lr = btc.cmd(["list"], db)
    check(re.search(re.escape(link_uuid) + r"\s+corrupt", lr.out) and
              re.search(re.escape(link_uuid) + r".*never sent", lr.err),
              "list shows the symlinked report as corrupt, and says so:\n%s%s" % (lr.out, lr.err))
    check(os.path.lexists(os.path.join(db, link_uuid + ".json.corrupt"))
              and not os.path.lexists(os.path.join(db, link_uuid + ".json")),
              "the symlinked report was not moved aside")
    check(os.path.exists(lure), "the symlink's target was touched")


def test_endpoints(btc, receiver, check, tmp_path):
    """Two programs with different endpoints (A, B), a third with A's URL but
    another token (A2), and a local-mode one share one database. Each report
    reaches only its own endpoint: a helper's retry pass sends only reports
    of its endpoint, `flush` only the current endpoint's, a local-mode report
    only with `flush --local`."""
    rx_a = receiver(500)
    rx_b = receiver("ok")
    db = str(tmp_path / "db")
    env_a = dict(BACKTRACE_ENDPOINT=rx_a.url, BACKTRACE_TOKEN="tok-a")
    env_a2 = dict(BACKTRACE_ENDPOINT=rx_a.url, BACKTRACE_TOKEN="tok-a2")
    env_b = dict(BACKTRACE_ENDPOINT=rx_b.url, BACKTRACE_TOKEN="tok-b")

    def crash(what, **env):
        before = reports(db)
        btc.crash(db, what=what, BACKTRACE_ATTRIBUTES=json.dumps({"who": what}), **env)
        return btc.one_new_report(db, before, what)

    a = crash("A (500)", **env_a)
    local = crash("local")
    rx_a.set_mode("ok")
    a2 = crash("A2 (other token, ok)", **env_a2)
    b = crash("B (ok)", **env_b)
    if None in (a, local, a2, b):
        return
    got_a = uploads(check, rx_a.snapshot(), "receiver A")
    got_b = uploads(check, rx_b.snapshot(), "receiver B")
    print("A got %r; B got %r" % (sorted(got_a), sorted(got_b)))
    check.eq(sorted(got_b), [b.uuid], "reports receiver B got (its own only)")
    check.eq(sorted(got_a), sorted([a.uuid, a2.uuid]),
           "reports receiver A got (A's failed attempt, then A2's own; A2's retry pass must "
           "not resend A's report with A2's token)")
    for q, _ in got_a.values():
        tok = q.query.get("token", [None])[0]
        u = json.loads(q.multipart()[0].data).get("uuid")
        check.eq(tok, "tok-a" if u == a.uuid else "tok-a2", "token of report %s" % u)
    st = {u: rep.state for u, rep in reports(db).items()}
    check.eq(st[a.uuid]["state"], "pending", "A's report after its 500")
    check.eq(st[local.uuid]["state"], "pending", "the local-mode report")
    # flush with B's endpoint: nothing of A's or the local one goes there.
    n_b = len(rx_b.snapshot())
    r = btc.cmd(["flush"], db, **env_b)
    print("flush (B):\n" + r.out.rstrip())
    check.eq(len(rx_b.snapshot()), n_b, "requests to B from `flush` with B's endpoint")
    check(re.search(re.escape(a.uuid) + r" skipped: made for another endpoint", r.out),
              "flush (B) does not say A's report is another endpoint's:\n" + r.out)
    check(re.search(re.escape(local.uuid) + r" skipped: made in local mode", r.out),
              "flush (B) does not say the local report is skipped:\n" + r.out)
    check.eq(r.exitcode, 0, "exit status of a flush that had nothing of its own to send")
    # flush with A's, once its 500's backoff is over: A's report, and not
    # the local one.
    backoff_over(db)
    n_a = len(rx_a.snapshot())
    r = btc.cmd(["flush"], db, **env_a)
    got = uploads(check, rx_a.snapshot()[n_a:], "flush (A)")
    check.eq(sorted(got), [a.uuid], "reports `flush` with A's endpoint sent")
    # flush --local with A's: the local one goes to A, once.
    n_a = len(rx_a.snapshot())
    r = btc.cmd(["flush", "--local"], db, **env_a)
    print("flush --local (A):\n" + r.out.rstrip())
    got = uploads(check, rx_a.snapshot()[n_a:], "flush --local (A)")
    check.eq(sorted(got), [local.uuid], "reports `flush --local` with A's endpoint sent")
    after = reports(db)
    check.eq(after[local.uuid].state.get("state"), "sent", "the local report after flush --local")
    check.eq(after[local.uuid].state.get("endpoint_id"), after[a.uuid].state.get("endpoint_id"),
           "the local report is bound to A's endpoint once sent there")
    # No state records the token, and none's file name holds it.
    for p in all_files(db):
        for tok in ("tok-a", "tok-b"):
            check(tok not in p, "a file name holds the token: %s" % p)
            if os.path.isfile(p):
                with open(p, "rb") as f:
                    check(tok.encode() not in f.read(), "%s holds the token %s" % (p, tok))


def test_server_escapes(btc, receiver, check, tmp_path):
    """A hostile server: an rxid and an error body with terminal escapes
    (colour, window title), a newline and a forged "btcrash:" line, and a
    10,000-byte rxid. Nothing of it reaches a terminal raw or uncut: not on
    the crashed program's stderr, nor in `flush`, `list` or `show`."""
    db = str(tmp_path / "db")
    evil = "rx\x1b[31mred\x1b]0;owned\x07\nbtcrash: forged\r\x9b2J\u009b"
    rx = receiver("ok")
    rx.reply = (200, json.dumps({"response": "ok", "_rxid": evil}).encode())
    env = dict(BACKTRACE_ENDPOINT=rx.url, BACKTRACE_TOKEN="tok")
    r = btc.crash(db, what="crash, hostile rxid", **env)
    print("stderr:\n" + r.err.rstrip())
    check_terminal_safe(check, r.err, "crash stderr (rxid)")
    check("rx\\x1b[31mred" in r.err, "the rxid is not shown escaped (\\x1b) on stderr")
    rep = next(iter(reports(db).values()))
    check(rep.state.get("state") == "sent" and "\x1b" not in rep.state.get("rxid", ""),
              "the stored rxid is escaped too: %r" % rep.state.get("rxid"))
    for args in (["list"], ["show", rep.uuid]):
        c = btc.cmd(args, db)
        check_terminal_safe(check, c.out + c.err, "`btcrash %s`" % " ".join(args))
    # A rejection whose body carries the same, and a huge rxid.
    rx.reply = (400, json.dumps({"error": {"message": evil + "x" * 5000}}).encode())
    r = btc.crash(db, what="crash, hostile 400", **env)
    print("stderr:\n" + r.err.rstrip())
    check_terminal_safe(check, r.err, "crash stderr (400)")
    line = [ln for ln in r.err.splitlines() if "rejected by the server" in ln]
    check(len(line) == 1 and "HTTP 400: rx\\x1b[31mred" in line[0] and len(line[0]) < 400,
              "the rejection line shows the server's message escaped and cut: %r" % line)
    rx.reply = (503, b"busy\x1b[2J\nbtcrash: forged")
    r = btc.crash(db, what="crash, hostile 503", **env)
    check_terminal_safe(check, r.err, "crash stderr (503)")
    rx.reply = (200, json.dumps({"response": "ok", "_rxid": "R" * 10000}).encode())
    c = btc.cmd(["flush"], db, **env)
    print("flush:\n" + c.out.rstrip())
    check_terminal_safe(check, c.out + c.err, "`btcrash flush`")
    check(max(len(ln) for ln in c.out.splitlines()) < 400,
              "flush printed a server's 10,000-byte rxid uncut")
    for args in (["list"], ["show", rep.uuid]):
        c = btc.cmd(args, db)
        check_terminal_safe(check, c.out + c.err, "`btcrash %s` after the hostile answers"
                            % " ".join(args))


def test_token_forms(btc, receiver, check, tmp_path):
    """The token is never printed, wherever the user put it: a token=
    parameter of the endpoint's query, the userinfo, BACKTRACE_TOKEN with an
    endpoint that has a query of its own (which gets &token=, not a second
    '?'). Debug output, stderr, flush, list, show and the database's names
    and files never hold it."""
    db = str(tmp_path / "db")
    rx = receiver("ok")
    forms = [
        ("query token", dict(BACKTRACE_ENDPOINT="%s/post?format=json&token=%s" % (rx.url, SECRET)),
         "/post?format=json&token=" + SECRET),
        ("userinfo", dict(BACKTRACE_ENDPOINT=rx.url.replace("://", "://%s@" % SECRET)
                          + "/post?format=json"), "/post?format=json"),
        ("BACKTRACE_TOKEN with a query", dict(BACKTRACE_ENDPOINT=rx.url + "/api/post?universe=u",
                                              BACKTRACE_TOKEN=SECRET),
         "/api/post?universe=u&token=%s&format=json" % SECRET),
    ]
    for what, env, path in forms:
        n0 = len(rx.snapshot())
        r = btc.crash(db, what="crash, %s, debug" % what, BACKTRACE_DEBUG_BACKTRACE="1", **env)
        reqs = rx.snapshot()[n0:]
        check.eq([q.path for q in reqs], [path], "%s: the request's path" % what)
        check(SECRET not in r.err, "%s: the token appears on the crashed program's stderr "
                  "(debug): ...%s..." % (what, r.err[max(0, r.err.find(SECRET) - 100):][:200]))
        check("REDACTED" in r.err, "%s: debug output shows no redacted URL" % what)
        rx.set_mode(500)
        r = btc.crash(db, what="crash, %s, 500" % what, BACKTRACE_DEBUG_BACKTRACE="1", **env)
        check(SECRET not in r.err, "%s (500): the token appears on stderr" % what)
        rx.set_mode("ok")
        for args in (["flush"], ["list"], ["show", next(iter(reports(db)))]):
            c = btc.cmd(args, db, BACKTRACE_DEBUG_BACKTRACE="1", **env)
            check(SECRET not in c.out + c.err,
                      "%s: the token appears in `btcrash %s`" % (what, " ".join(args)))
    for p in all_files(db):
        check(SECRET not in p, "a database file name holds the token: %s" % p)
        if os.path.isfile(p):
            with open(p, "rb") as f:
                check(SECRET.encode() not in f.read(), "%s holds the token" % p)


def test_proc_self(btc, receiver, check, tmp_path):
    """BACKTRACE_ATTACHMENTS=/proc/self/environ:/proc/thread-self/comm
    means the crashed process (and its crashing thread), never the helper;
    a link that resolves to the helper's own /proc is refused with a note.
    The helper's environment (which holds the token) is never attached."""
    rx = receiver("ok")
    db = str(tmp_path / "db")
    link = str(tmp_path / "env-link")
    os.symlink("/proc/self/environ", link)
    btc.crash(db, what="crash with /proc/self attachments", BACKTRACE_ENDPOINT=rx.url,
              BACKTRACE_TOKEN=SECRET, BTCRASH_TEST_MARKER="crashed-process",
              BACKTRACE_ATTACHMENTS="/proc/self/environ:/proc/thread-self/comm:" + link)
    sent = uploads(check, rx.snapshot(), "proc self")
    if not check(len(sent) == 1, "one report sent, got %d" % len(sent)):
        return
    _, parts = next(iter(sent.values()))
    env = parts.get("attachment_environ")
    if check(env is not None, "no attachment_environ part: %r" % sorted(parts)):
        check(b"BTCRASH_TEST_MARKER=crashed-process" in env and b"LD_PRELOAD=" in env,
                  "attachment_environ is not the crashed process's environment (its "
                  "LD_PRELOAD and marker): %r" % env[:300])
    check.eq(parts.get("attachment_comm"), b"timed_null\n",
           "attachment_comm: the crashing thread's name")
    check("attachment_env-link" not in parts, "the link to the helper's own environ was "
              "attached")
    rep = next(iter(reports(db).values()))
    crash_ann = json.dumps(rep.report.get("annotations", {}).get("Crash", {}))
    check("btcrash's own process" in crash_ann,
              "the report does not say the link was refused: %s" % crash_ann[:500])


def test_storm(btc, build, receiver, check, tmp_path):
    """30 processes crash at once into one database while a `btcrash flush`
    loop runs against the same receiver, twice: every report reaches the
    server exactly once (the first state already holds the attachment list,
    and the report is claimed before it has a name), with its attachment,
    and all end sent."""
    rx = receiver("ok", delay=0.05)
    db = str(tmp_path / "db")
    att = str(tmp_path / "storm.log")
    with open(att, "w") as f:
        f.write("storm attachment\n")
    env = btc.env(db, LD_PRELOAD=build.lib, BACKTRACE_ENDPOINT=rx.url, BACKTRACE_TOKEN="tok",
                BACKTRACE_ATTACHMENTS=att, BACKTRACE_TIMEOUT="10")
    fenv = btc.env(db, BACKTRACE_ENDPOINT=rx.url, BACKTRACE_TOKEN="tok")
    for rnd in (1, 2):
        stop = time.monotonic() + 60
        flushes = []
        procs = []
        for i in range(30):
            procs.append(subprocess.Popen([build.prog("timed_null")], env=env,
                                          cwd=btc.newdir("cwd"), stdin=subprocess.DEVNULL,
                                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                          start_new_session=True))
            if i % 5 == 0:
                flushes.append(subprocess.Popen([build.helper, "flush"], env=fenv,
                                                stdin=subprocess.DEVNULL,
                                                stdout=subprocess.DEVNULL,
                                                stderr=subprocess.DEVNULL))
        while any(p.poll() is None for p in procs) and time.monotonic() < stop:
            flushes = [f for f in flushes if f.poll() is None]
            if len(flushes) < 2:
                flushes.append(subprocess.Popen([build.helper, "flush"], env=fenv,
                                                stdin=subprocess.DEVNULL,
                                                stdout=subprocess.DEVNULL,
                                                stderr=subprocess.DEVNULL))
            time.sleep(0.01)
        for p in procs + flushes:
            try:
                p.wait(timeout=max(1, stop - time.monotonic()))
            except subprocess.TimeoutExpired:
                p.kill()
                check.fail("round %d: HANG: a process of the storm did not finish" % rnd)
        btc.wait_helpers(db, time.monotonic() + 10, "storm round %d" % rnd)
        c = btc.cmd(["flush"], db, BACKTRACE_ENDPOINT=rx.url, BACKTRACE_TOKEN="tok")
        check.eq(c.exitcode, 0, "round %d: exit status of the last flush" % rnd)
        for p in procs:
            check.eq(p.returncode, -signal.SIGSEGV, "round %d: fate of a storm crash" % rnd)
    reqs = rx.snapshot()
    counts = {}
    for q in reqs:
        parts = {p.name: p.data for p in q.multipart()}
        u = json.loads(parts["upload_file"]).get("uuid")
        counts[u] = counts.get(u, 0) + 1
        check.eq(parts.get("attachment_storm.log"), b"storm attachment\n",
               "the attachment of report %s" % u)
    reps = reports(db)
    print("reports %d, requests %d, distinct %d" % (len(reps), len(reqs), len(counts)))
    check.eq(len(reps), 60, "reports stored by two storms of 30")
    check.eq(sorted(u for u, n in counts.items() if n > 1), [], "reports sent more than once")
    check.eq(sorted(counts), sorted(reps), "the reports the receiver got")
    check.eq(sorted({rep.state.get("state") for rep in reps.values()}), ["sent"],
           "states after the storms and a last flush")


def test_corrupt_files(btc, receiver, check, tmp_path):
    """A corrupt report file and a corrupt state file: `list`, `show` and
    `flush` say so in words; the report is moved aside (listed as corrupt,
    never sent), the state is repaired (the report pending again, sent by
    `flush --local` with its attachment); no later flush fails because of
    them."""
    rx = receiver(500)
    db = str(tmp_path / "db")
    att = str(tmp_path / "app.log")
    with open(att, "w") as f:
        f.write("app log\n")
    env = dict(BACKTRACE_ENDPOINT=rx.url, BACKTRACE_TOKEN="tok", BACKTRACE_ATTACHMENTS=att)
    before = reports(db)
    btc.crash(db, what="crash A (500)", **env)
    a = btc.one_new_report(db, before, "crash A")
    before = reports(db)
    btc.crash(db, what="crash B (500)", **env)
    b = btc.one_new_report(db, before, "crash B")
    if a is None or b is None:
        return
    with open(a.json_path, "wb") as f:
        f.write(b'{"uuid": "trunc')
    with open(b.state_path, "wb") as f:
        f.write(b'{"state": 7}')
    r = btc.cmd(["list"], db)
    print("list:\n" + (r.out + r.err).rstrip())
    check.eq(r.exitcode, 0, "exit status of list with corrupt files")
    check(re.search(re.escape(a.uuid) + r"\s+corrupt", r.out), "list row of the corrupt "
              "report says corrupt:\n" + r.out)
    check(re.search(re.escape(b.uuid) + r"\s+pending", r.out), "list row of the report "
              "with a corrupt state says pending:\n" + r.out)
    check(re.search(re.escape(a.uuid) + r".*moved aside", r.err) and
              re.search(re.escape(b.uuid) + r".*moved aside", r.err),
              "list does not say what it did with the corrupt files:\n" + r.err)
    check(os.path.exists(a.json_path + ".corrupt") and not os.path.exists(a.json_path),
              "the corrupt report was not moved aside")
    check(os.path.exists(b.state_path + ".corrupt"), "the corrupt state was not moved aside")
    s = btc.cmd(["show", a.uuid], db)
    check(s.exitcode == 1 and "corrupt" in s.err,
              "show of the corrupt report: exit 1 and says corrupt: %s %r" % (s.describe(), s.err))
    rx.set_mode("ok")
    for i in (1, 2):
        n0 = len(rx.snapshot())
        f = btc.cmd(["flush"], db, **env)
        print("flush %d:\n%s" % (i, (f.out + f.err).rstrip()))
        check.eq(f.exitcode, 0, "exit status of flush %d with corrupt files" % i)
        check.eq(len(rx.snapshot()) - n0, 0, "flush %d sends nothing: the corrupt report never, "
               "the repaired one only with --local" % i)
    n0 = len(rx.snapshot())
    f = btc.cmd(["flush", "--local"], db, **env)
    got = uploads(check, rx.snapshot()[n0:], "flush --local")
    check.eq(sorted(got), [b.uuid], "flush --local sends the repaired report")
    if b.uuid in got:
        check.eq(got[b.uuid][1].get("attachment_app.log"), b"app log\n",
               "the repaired state kept the attachment copy")
    check.eq(f.exitcode, 0, "exit status of flush --local")
