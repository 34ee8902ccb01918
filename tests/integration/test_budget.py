"""Integration tests of the crash-time budget with large attachments
(DESIGN.md §1 "time is bounded", §6 the database's bound; store/db.h).

A crashing program (progs/timed_null, as in test_delivery.py) is given
twenty 16 MiB attachments at BACKTRACE_TIMEOUT=1, several times into one
database. Each time a report must be kept, the process must be dead within
1.5 s of its fault (btc.crash checks it), the whole database directory
(`du -sb`, everything in it) must stay within BTC_DB_MAX_BYTES, and what an
earlier helper left behind (temporary files, copy directories without a
report) must be gone once the next helper or `btcrash flush` has run.

    pytest tests/integration/test_budget.py --btc-build build
"""

import json
import os
import subprocess

import pytest

from conftest import reports

pytestmark = pytest.mark.budget

MIB = 1024 * 1024
MAX_BYTES = 256 * MIB            # BTC_DB_MAX_BYTES
MAX_REPORT_ATTACHMENTS = 64 * MIB  # BTC_DB_MAX_REPORT_ATTACHMENT_BYTES
FILES = 20
FILE_SIZE = 16 * MIB             # BTC_DB_MAX_ATTACHMENT_BYTES: whole, not cut
# 5 x 64 MiB of copies is more than 256 MiB: the bound itself is exercised,
# not only the per-report cap.
RUNS = 5
TIMEOUT_S = 1.0


def du_sb(path):
    """`du -sb PATH`: apparent size of everything below it, in bytes."""
    out = subprocess.run(["du", "-sb", path], check=True, stdout=subprocess.PIPE, timeout=60)
    return int(out.stdout.split()[0])


def leftovers(db):
    """(temporary files anywhere in @db, copy directories without a report)."""
    temps, orphans = [], []
    for dirpath, dirnames, filenames in os.walk(db):
        temps += [os.path.join(dirpath, n) for n in filenames + dirnames if n.endswith(".tmp")]
    for name in os.listdir(db):
        if name.endswith(".d"):
            uuid = name[:-2]
            if not any(os.path.lexists(os.path.join(db, uuid + s))
                       for s in (".json", ".json.corrupt")):
                orphans.append(os.path.join(db, name))
    return sorted(temps), sorted(orphans)


def make_attachments(d):
    chunk = os.urandom(MIB)
    paths = []
    for i in range(FILES):
        p = os.path.join(d, "big%02d.bin" % i)
        with open(p, "wb") as f:
            for _ in range(FILE_SIZE // MIB):
                f.write(chunk)
        paths.append(p)
    return paths


@pytest.mark.parametrize("mode", ["local", "endpoint"])
def test_twenty_big_attachments(btc, receiver, check, db, mode):
    """Twenty 16 MiB attachments at BACKTRACE_TIMEOUT=1, RUNS times into
    one database: a report kept each time, the process dead by 1.5 s after
    the fault, the directory within 256 MiB after each run, and no
    temporary file or orphaned copy directory of an earlier run left."""
    paths = make_attachments(btc.newdir("att"))
    env = {"BACKTRACE_ATTACHMENTS": ":".join(paths)}
    rx = None
    if mode == "endpoint":
        rx = receiver("ok")
        env.update(BACKTRACE_ENDPOINT=rx.url, BACKTRACE_TOKEN="tok")
    seen_left = ([], [])
    for run in range(1, RUNS + 1):
        what = "%s run %d" % (mode, run)
        before = reports(db)
        r = btc.crash(db, timeout_s=TIMEOUT_S, what=what, **env)
        rep = btc.one_new_report(db, before, what)
        size = du_sb(db) if os.path.isdir(db) else 0
        temps, orphans = leftovers(db) if os.path.isdir(db) else ([], [])
        notes = []
        copies = None
        if rep is not None:
            notes = ((rep.report.get("annotations") or {}).get("Crash") or {}).get(
                "attachments") or []
            copies = len((rep.state or {}).get("attachments") or [])
        print("%s: died %s s after the fault; report %s (%s), %s copies, %d notes; "
              "du -sb %d (%.1f MiB); temporary files %d, orphaned copy directories %d" % (
                  what, "%.3f" % r.took if r.took is not None else "?",
                  rep.uuid if rep else None, rep.state_name if rep else None, copies,
                  len(notes), size, size / MIB, len(temps), len(orphans)))
        for line in r.err.splitlines():
            if line.startswith("btcrash: ") and "crashed:" not in line:
                print("  stderr: " + line)
        check(size <= MAX_BYTES, "%s: du -sb of the database is %d bytes (%.1f MiB), over "
              "BTC_DB_MAX_BYTES (256 MiB)" % (what, size, size / MIB))
        if rep is not None:
            ddir = os.path.join(db, rep.uuid + ".d")
            copied = du_sb(ddir) - os.lstat(ddir).st_size if os.path.isdir(ddir) else 0
            check(copied <= MAX_REPORT_ATTACHMENTS, "%s: the report's copies take %d bytes, over "
                  "64 MiB" % (what, copied))
            check(len(notes) + (copies or 0) >= FILES, "%s: of %d attachments, %s copied and "
                  "%d noted: some vanished without a word; notes: %s" % (
                      what, FILES, copies, len(notes), json.dumps(notes)[:1500]))
        # What the previous run left must be gone now that this helper ran.
        stale_t = sorted(set(temps) & set(seen_left[0]))
        stale_o = sorted(set(orphans) & set(seen_left[1]))
        check.eq(stale_t, [], "%s: temporary files an earlier run left, still there after this "
                 "run's helper" % what)
        check.eq(stale_o, [], "%s: copy directories without a report an earlier run left, still "
                 "there after this run's helper" % what)
        seen_left = (temps, orphans)

    # And after a flush, nothing at all is left over.
    frx = rx or receiver("ok")
    fr = btc.cmd(["flush"], db, timeout=120, BACKTRACE_ENDPOINT=frx.url, BACKTRACE_TOKEN="tok",
                 BACKTRACE_TIMEOUT="20")
    print("flush: %s\n%s" % (fr.describe(), (fr.out + fr.err).rstrip()))
    temps, orphans = leftovers(db)
    check.eq(temps, [], "temporary files left after `btcrash flush`")
    check.eq(orphans, [], "copy directories without a report left after `btcrash flush`")
    size = du_sb(db)
    print("after flush: du -sb %d (%.1f MiB), %d reports" % (size, size / MIB, len(reports(db))))
    check(size <= MAX_BYTES, "after flush: du -sb of the database is %d bytes, over 256 MiB"
          % size)
