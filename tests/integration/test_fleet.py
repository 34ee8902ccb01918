"""Fleet behaviour (issue 13): a server's Retry-After holds back every
btcrash process of a database, a wrong token or URL is no verdict on the
reports, failed attempts back off, crash loops are counted rather than
sent, and WAIT_FOR_UPLOAD=0 releases the crashed process early.

Each test starts its own receiver (receiver.py) and crashes timed_null
under the library; time is never waited out: a test that needs the
backoff over rewrites the due times (conftest.backoff_over)."""
import email.utils
import json
import os
import re
import time

import pytest

from conftest import backoff_over, reports

pytestmark = pytest.mark.fleet

TOKEN = "tok"
WHEN = r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d"


def crash(btc, rx, db, what, **env):
    """One crash of timed_null against @rx; its new report (or None)."""
    before = reports(db)
    r = btc.crash(db, what=what, BACKTRACE_ENDPOINT=rx.url, BACKTRACE_TOKEN=TOKEN, **env)
    return r, btc.one_new_report(db, before, what)


def flush(btc, rx, db, *args):
    r = btc.cmd(["flush"] + list(args), db, BACKTRACE_ENDPOINT=rx.url, BACKTRACE_TOKEN=TOKEN)
    print("flush %s: %s\n%s" % (" ".join(args), r.describe(), (r.out + r.err).rstrip()))
    return r


def lines_naming(text, uuid):
    return [ln for ln in text.splitlines() if uuid in ln]


def holds(db):
    return [n for n in os.listdir(db) if n.endswith(".hold")] if os.path.isdir(db) else []


@pytest.mark.parametrize("status,form", [(429, "seconds"), (503, "date")])
def test_retry_after(btc, receiver, check, db, status, form):
    """A 429 or 503 with Retry-After (seconds, or an HTTP date): the report
    stays pending until then; the next crash of another process sends
    nothing and keeps its report pending too; `list` shows when each is
    due; `flush` waits (no request, exit 0); `flush --force` sends both."""
    rx = receiver(status)
    rx.extra_headers = [("Retry-After", "120" if form == "seconds" else
                         email.utils.formatdate(time.time() + 120, usegmt=True))]
    t0 = time.time()
    r1, first = crash(btc, rx, db, "crash answered %d" % status)
    check.eq(len(rx.snapshot()), 1, "requests of the first crash")
    if first is None:
        return
    nxt = (first.state or {}).get("next_attempt", 0)
    # An HTTP date has whole seconds: it may fall up to 1 s short.
    check(t0 + 118 <= nxt <= time.time() + 121, "next_attempt %r is not 120 s after the 429 "
          "(state %s)" % (nxt, json.dumps(first.state)))
    check.eq(len(holds(db)), 1, "hold files in the database after the Retry-After")

    # Another process, the next crash: not sent, kept, and it says why.
    r2, second = crash(btc, rx, db, "crash while held back")
    check.eq(len(rx.snapshot()), 1, "requests of the crash while the endpoint is held back")
    if second is None:
        return
    check.eq(second.state_name, "pending", "state of the report made while held back")
    said = [ln for ln in r2.err.splitlines() if ln.startswith("btcrash: report ")]
    check(len(said) == 1 and re.fullmatch(
        r"btcrash: report %s kept for retry: not sent yet: the server asked to wait until %s "
        r"UTC \(HTTP %d, Retry-After\); 'btcrash flush' sends it then" % (second.uuid, WHEN,
                                                                          status), said[0]),
        "the crash's outcome line while held back: %r" % said)

    # list: both pending, with their due time.
    lr = btc.cmd(["list"], db)
    for rep in (first, second):
        row = lines_naming(lr.out, rep.uuid)
        m = re.search(r"pending \(next (%s)\)" % WHEN, row[0] if row else "")
        if check(m is not None, "list row of %s has no due time: %r" % (rep.uuid, row)):
            due = time.mktime(time.strptime(m.group(1), "%Y-%m-%d %H:%M:%S"))
            check(t0 + 117 <= due <= time.time() + 121, "list: %s due at %s, not about 120 s "
                  "after the %d" % (rep.uuid, m.group(1), status))

    # flush waits: nothing sent, each said so, exit 0.
    rx.set_mode("ok")
    fr = flush(btc, rx, db)
    check.eq(fr.exitcode, 0, "exit status of a flush while held back")
    check.eq(len(rx.snapshot()), 1, "requests of a flush while held back")
    for rep in (first, second):
        check(any(re.fullmatch(r"%s waiting: the server asked to wait until %s UTC \(HTTP %d, "
                               r"Retry-After\)" % (rep.uuid, WHEN, status), ln)
                  for ln in lines_naming(fr.out, rep.uuid)),
              "flush does not say %s is waiting for the Retry-After" % rep.uuid)

    # --force goes anyway.
    fr = flush(btc, rx, db, "--force")
    check.eq(fr.exitcode, 0, "exit status of flush --force")
    check.eq(len(rx.snapshot()), 3, "requests after flush --force")
    after = reports(db)
    for rep in (first, second):
        check.eq(after[rep.uuid].state_name, "sent", "state of %s after flush --force"
                 % rep.uuid)


def test_wrong_endpoint_is_no_verdict(btc, receiver, check, db):
    """A backlog of three, then a server answering 401, then 404: one request
    each time, every report stays pending, and the line says what to fix.
    Then 400 for one report: only that one is rejected, the others go;
    `flush --retry-rejected` sends it again."""
    rx = receiver(500)
    backlog = [crash(btc, rx, db, "backlog crash %d -> 500" % i)[1] for i in (1, 2, 3)]
    if not check(all(backlog), "a backlog of three pending reports"):
        return
    for status, fix in ((401, "the server refused the token: check BACKTRACE_TOKEN"),
                        (404, "no submission endpoint at this URL: check BACKTRACE_ENDPOINT")):
        backoff_over(db)
        rx.set_mode(status)
        n0 = len(rx.snapshot())
        fr = flush(btc, rx, db)
        check.eq(fr.exitcode, 1, "exit status of a flush answered %d" % status)
        check.eq(len(rx.snapshot()) - n0, 1, "requests of a flush answered %d: the first report "
                 "only, the others would fail alike" % status)
        check("(%s); the other reports were not tried" % fix in fr.out,
              "flush answered %d does not say what to fix: %r" % (status, fr.out))
        check.eq([rep.state_name for rep in reports(db).values()], ["pending"] * 3,
                 "states after a flush answered %d" % status)
    backoff_over(db)
    rx.script = [400]
    rx.set_mode("ok")
    fr = flush(btc, rx, db)
    states = {u: rep.state_name for u, rep in reports(db).items()}
    # The oldest goes first (by timestamp, then uuid: btcrash list's order).
    oldest = next(iter(reports(db)))
    check.eq(states, {b.uuid: ("rejected" if b.uuid == oldest else "sent") for b in backlog},
             "states after a 400 for the oldest report, then 200s")
    check(any(re.fullmatch(r"%s rejected \(HTTP 400.*\)" % oldest, ln)
              for ln in lines_naming(fr.out, oldest)), "flush output for the rejected report")
    fr = flush(btc, rx, db)
    check.eq(fr.out.strip(), "No pending reports in %s." % db, "a plain flush leaves the "
             "rejected report alone")
    n0 = len(rx.snapshot())
    fr = flush(btc, rx, db, "--retry-rejected")
    check.eq((fr.exitcode, len(rx.snapshot()) - n0), (0, 1),
             "exit status and requests of flush --retry-rejected")
    check.eq(reports(db)[oldest].state_name, "sent", "the rejected report, requeued and sent")


def test_backoff_holds_every_sender(btc, receiver, check, db):
    """A failed attempt's backoff holds for whoever comes next: the next
    crash's helper sends its own report, not the backlog's; once the backoff
    is over it sends both."""
    rx = receiver(500)
    _, old = crash(btc, rx, db, "crash -> 500")
    if old is None:
        return
    rx.set_mode("ok")
    r, new = crash(btc, rx, db, "crash -> 200 while the first backs off")
    check.eq(len(rx.snapshot()), 2, "requests: the failed one and the new crash's, no backlog")
    check.eq(reports(db)[old.uuid].state_name, "pending", "the backed-off report")
    backoff_over(db)
    crash(btc, rx, db, "crash -> 200 after the backoff")
    check.eq(len(rx.snapshot()), 4, "requests: the new crash's, then the backlog's")
    check.eq(reports(db)[old.uuid].state_name, "sent", "the backlog report after its backoff")


def counts_received(check, requests, what):
    """uuid -> crash.count of each report the receiver got."""
    out = {}
    for q in requests:
        try:
            parts = {p.name: p.data for p in q.multipart()}
            rep = json.loads(parts["upload_file"])
        except (ValueError, KeyError) as e:
            check.fail("%s: a request is not a report: %s" % (what, e))
            continue
        out[rep["uuid"]] = rep.get("attributes", {}).get("crash.count")
    return out


def test_crash_loop(btc, receiver, check, db):
    """20 identical crashes in a row plus a different one (window 60 s): the
    first of the loop and the different one are sent at once, crash.count 1;
    the 19 repeats are kept as throttled, not sent. A flush within the
    window sends nothing; after the window (BACKTRACE_CRASH_LOOP_WINDOW=0
    for the flush: no window left) one report goes, the newest repeat, with
    crash.count 19, and the others become counted. The counts the server
    got add up to the 21 crashes."""
    rx = receiver("ok")
    env = dict(BACKTRACE_CRASH_LOOP_WINDOW="60")
    first = None
    for i in range(20):
        r, rep = crash(btc, rx, db, "loop crash %d" % (i + 1), **env)
        if i == 0:
            first = rep
        elif rep is not None:
            check.eq(rep.state_name, "throttled", "loop crash %d: its state" % (i + 1))
            if i == 19:
                check(re.search(r"^btcrash: report %s kept, not sent: the same crash was sent "
                                r"\d+ s ago \(a crash loop: 19 repeats kept since; "
                                r"BACKTRACE_CRASH_LOOP_WINDOW=60 s\)" % rep.uuid, r.err, re.M),
                      "the 20th crash does not say it is kept as a repeat:\n%s" % r.err[-1500:])
    # One loop never holds back a different crash.
    _, other = crash(btc, rx, db, "a different crash", prog="maps_null", **env)
    got = counts_received(check, rx.snapshot(), "loop")
    check.eq(got, {first.uuid: 1, other.uuid: 1} if first and other else got,
             "reports sent during the loop and their crash.count")
    states = [rep.state_name for rep in reports(db).values()]
    check.eq((states.count("sent"), states.count("throttled")), (2, 19),
             "sent and throttled reports after the loop")

    # A flush within the window: the repeats wait for it to pass.
    fr = btc.cmd(["flush"], db, BACKTRACE_ENDPOINT=rx.url, BACKTRACE_TOKEN=TOKEN, **env)
    check.eq((fr.exitcode, len(rx.snapshot())), (0, 2), "exit status and requests of a flush "
             "within the window")
    # After the window.
    fr = btc.cmd(["flush"], db, BACKTRACE_ENDPOINT=rx.url, BACKTRACE_TOKEN=TOKEN,
                 BACKTRACE_CRASH_LOOP_WINDOW="0")
    print("flush after the window:\n" + fr.out)
    check.eq(fr.exitcode, 0, "exit status of the flush after the window")
    got = counts_received(check, rx.snapshot(), "loop and flush")
    check.eq(len(got), 3, "reports the server got: the loop's first, the other crash, and one "
             "for the 19 repeats")
    check.eq(sum(v for v in got.values() if isinstance(v, int)), 21,
             "crash.count values add up to the 21 crashes (%r)" % got)
    after = reports(db)
    newest = [u for u, rep in after.items() if rep.state_name == "sent" and
              u not in (first.uuid if first else None, other.uuid if other else None)]
    repeats = [u for u, rep in after.items() if rep.state_name in ("counted", "sent")
               and u != (first.uuid if first else None) and u != (other.uuid if other else None)]
    check.eq(len(newest), 1, "one repeat sent for the loop")
    if newest:
        check.eq(got.get(newest[0]), 19, "the loop's report stands for the 19 repeats")
        check.eq(newest[0], repeats[-1], "the newest repeat is the one sent")
        counted = [rep.state for u, rep in after.items() if rep.state_name == "counted"]
        check.eq(len(counted), 18, "the other repeats are counted")
        check(all(s.get("counted_in") == newest[0] for s in counted),
              "the counted repeats name the report that carried them")
    # Nothing more to send, and no count twice.
    fr = btc.cmd(["flush"], db, BACKTRACE_ENDPOINT=rx.url, BACKTRACE_TOKEN=TOKEN,
                 BACKTRACE_CRASH_LOOP_WINDOW="0")
    check.eq(len(rx.snapshot()), 3, "requests after a second flush")


def test_crash_loop_next_crash_carries_the_count(btc, receiver, check, db):
    """A loop's next crash after its window (3 s here) is sent at once and
    carries the count of the repeats kept before it, plus itself."""
    rx = receiver("ok")
    env = dict(BACKTRACE_CRASH_LOOP_WINDOW="3")
    t0 = time.monotonic()
    for i in range(3):
        crash(btc, rx, db, "crash %d within the window" % (i + 1), **env)
    repeats = [rep.state_name for rep in reports(db).values()].count("throttled")
    # Under load a crash may take long: the repeats are those kept in time.
    check(1 <= repeats <= 2, "repeats kept within the window: %d" % repeats)
    check.eq(len(rx.snapshot()), 3 - repeats, "requests within the window")
    # The record keeps whole seconds: past the window by more than one.
    time.sleep(max(0.0, t0 + 4.6 - time.monotonic()))
    _, last = crash(btc, rx, db, "crash after the window", **env)
    got = counts_received(check, rx.snapshot(), "window")
    if last is not None:
        check.eq(got.get(last.uuid), 1 + repeats, "the crash after the window stands for itself "
                 "and the repeats")
    check.eq(sum(v for v in got.values() if isinstance(v, int)), 4,
             "crash.count values add up to the 4 crashes (%r)" % got)


def test_two_loops_at_once(btc, build, receiver, check, db):
    """Two programs crash-looping at the same time, 6 crashes each, two at
    a time into one database: each loop's first crash is sent, the other
    10 are throttled, none is lost or counted twice."""
    import subprocess
    rx = receiver("ok")
    env = btc.env(db, LD_PRELOAD=build.lib, BACKTRACE_ENDPOINT=rx.url, BACKTRACE_TOKEN=TOKEN,
                  BACKTRACE_CRASH_LOOP_WINDOW="60")
    cwd = btc.newdir("cwd-loops")
    for i in range(6):
        procs = [subprocess.Popen([build.prog(p)], env=env, cwd=cwd, stdout=subprocess.DEVNULL,
                                  stderr=subprocess.DEVNULL)
                 for p in ("timed_null", "maps_null")]
        for p in procs:
            p.wait(timeout=30)
    btc.wait_helpers(db, time.monotonic() + 5, "two loops")
    states = [rep.state_name for rep in reports(db).values()]
    check.eq(len(states), 12, "reports stored")
    check.eq((states.count("sent"), states.count("throttled")), (2, 10),
             "sent and throttled reports of two loops at once")
    fr = btc.cmd(["flush"], db, BACKTRACE_ENDPOINT=rx.url, BACKTRACE_TOKEN=TOKEN,
                 BACKTRACE_CRASH_LOOP_WINDOW="0")
    got = counts_received(check, rx.snapshot(), "two loops")
    check.eq(len(got), 4, "reports the server got: two per loop (%s)" % fr.out)
    check.eq(sorted(v for v in got.values()), [1, 1, 5, 5], "crash.count of each")


@pytest.mark.parametrize("wait", ["1", "0"])
def test_wait_for_upload(btc, receiver, check, db, wait):
    """A receiver that takes 2 s to answer. WAIT_FOR_UPLOAD=1 (the default):
    the crashed process dies after the upload. 0: it dies as soon as its
    report is stored, well before the upload ends, and the upload still
    arrives, from the helper on its own, and is recorded as sent."""
    rx = receiver("ok", delay=2.0)
    r, rep = crash(btc, rx, db, "crash, WAIT_FOR_UPLOAD=%s" % wait, timeout_s=6.0,
                   BACKTRACE_WAIT_FOR_UPLOAD=wait)
    took = getattr(r, "took", None)
    if not check(took is not None, "no time of death"):
        return
    reqs = rx.wait_requests(1, 8)
    check.eq(len(reqs), 1, "requests the receiver got")
    if reqs:
        # The request started before the answer's 2 s.
        answered = reqs[0].mono + 2.0
        if wait == "0":
            check(r.death_mono < answered - 1.0, "WAIT_FOR_UPLOAD=0: the process died %.2f s "
                  "after the fault, not well before the upload ended" % took)
        else:
            check(r.death_mono >= answered - 0.1, "WAIT_FOR_UPLOAD=1: the process died %.2f s "
                  "after the fault, before the upload ended" % took)
    if rep is not None:
        check.eq(reports(db)[rep.uuid].state_name, "sent", "the report's state once the helper "
                 "is done")
