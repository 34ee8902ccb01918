#!/usr/bin/env python3
"""Real programs unchanged under the library (issue 5, point 6).

Each case runs one or more commands twice, without and with
LD_PRELOAD=libbtcrash.so, in the same directory over the same generated
input files, and checks:
  - stdout is byte-identical, and so is the exit status (the raw wait
    status: an exit code or a death by signal);
  - with the library, the fresh BACKTRACE_DATABASE_PATH stays empty (no
    report was made) and stderr has no line mentioning btcrash.

Cases: python3 (threads, subprocess, hashing), perl (one-liners), bash
(pipelines), coreutils (ls, sort, wc, ... on generated files), gzip
(gzip -c | gunzip -c round trips), threads2000 (a C program creating 2,000
threads, in batches, joined), fork_exec300 (a C program forking and
exec'ing /bin/true 300 times, checking every exit status), java
(`java -version` and a tiny class if javac exists), node (`node -e`).
A case whose program is not installed prints that it was skipped and exits
77 (ctest SKIP_RETURN_CODE).

Every subprocess has a timeout. Python 3 standard library only.

Usage: real_programs.py --lib LIB --progs DIR CASE
       real_programs.py --list
"""

import argparse
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

RUN_TIMEOUT = 120
SKIP = 77


def describe(rc):
    if rc < 0:
        return "killed by %s" % signal.Signals(-rc).name
    return "exit %d" % rc


class Ctx:
    def __init__(self, a):
        self.lib = os.path.abspath(a.lib)
        self.progs = os.path.abspath(a.progs) if a.progs else None
        self.verbose = a.verbose
        self.tmp = tempfile.mkdtemp(prefix="btcrash-real-")
        self.data = os.path.join(self.tmp, "data")
        os.makedirs(self.data)
        self.failures = []
        self.n = 0
        self.make_data()

    def make_data(self):
        # Deterministic inputs: numbers, words, a binary-ish file.
        with open(os.path.join(self.data, "numbers.txt"), "w") as f:
            for i in range(200000):
                f.write("%d\n" % ((i * 7919) % 100003))
        words = ["alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta", "theta"]
        with open(os.path.join(self.data, "words.txt"), "w") as f:
            for i in range(50000):
                f.write("%s %s %d\n" % (words[i % 8], words[(i * 3) % 8], i % 97))
        with open(os.path.join(self.data, "blob.bin"), "wb") as f:
            x = 12345
            buf = bytearray()
            for _ in range(1 << 20):
                x = (x * 1103515245 + 12345) & 0x7FFFFFFF
                buf.append(x >> 16 & 0xFF)
            f.write(bytes(buf))
        os.makedirs(os.path.join(self.data, "tree", "sub"))
        for i in range(20):
            with open(os.path.join(self.data, "tree", "f%02d.txt" % i), "w") as f:
                f.write("x" * (i * 37))
        for p in [os.path.join(dp, n) for dp, dns, fns in os.walk(self.data)
                  for n in dns + fns] + [self.data]:
            os.utime(p, (1700000000, 1700000000))

    def env(self, db, preload):
        env = {k: v for k, v in os.environ.items()
               if not k.startswith("BACKTRACE_") and k != "LD_PRELOAD"}
        env["LC_ALL"] = "C"
        env["BACKTRACE_DATABASE_PATH"] = db
        if preload:
            env["LD_PRELOAD"] = self.lib
        return env

    def run(self, argv, preload, db, stdin=None):
        t0 = time.monotonic()
        p = subprocess.Popen(argv, cwd=self.data, env=self.env(db, preload),
                             stdin=subprocess.DEVNULL if stdin is None else subprocess.PIPE,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             start_new_session=True)
        try:
            out, err = p.communicate(input=stdin, timeout=RUN_TIMEOUT)
        except subprocess.TimeoutExpired:
            os.killpg(p.pid, signal.SIGKILL)
            out, err = p.communicate()
            self.failures.append("HANG: %s (%s) did not finish within %d s" % (
                " ".join(argv), "with" if preload else "without", RUN_TIMEOUT))
            return None
        return p.returncode, out, err, time.monotonic() - t0

    def compare(self, name, argv, stdin=None, compare_stderr=False, expect_rc=0):
        """Runs @argv without and with the library; records failures."""
        self.n += 1
        db = os.path.join(self.tmp, "db-%d" % self.n)
        a = self.run(argv, False, os.path.join(self.tmp, "db-none"), stdin)
        b = self.run(argv, True, db, stdin)
        if a is None or b is None:
            return
        rca, outa, erra, ta = a
        rcb, outb, errb, tb = b
        print("%-28s without: %s, %d bytes, %.3f s | with: %s, %d bytes, %.3f s" % (
            name, describe(rca), len(outa), ta, describe(rcb), len(outb), tb), flush=True)
        if self.verbose:
            print("--- stdout (with):\n%s\n--- stderr (with):\n%s" % (
                outb[:2000].decode("utf-8", "replace"), errb[-2000:].decode("utf-8", "replace")))
        if expect_rc is not None and rca != expect_rc:
            self.failures.append("%s: without the library it ended %s, the test expects %s "
                                 "(stderr: %s)" % (name, describe(rca), describe(expect_rc),
                                                   erra[-500:].decode("utf-8", "replace")))
        if rca != rcb:
            self.failures.append("%s: exit status without the library %s, with it %s\n--- "
                                 "stderr with:\n%s" % (name, describe(rca), describe(rcb),
                                                       errb[-1500:].decode("utf-8", "replace")))
        if outa != outb:
            i = next((i for i, (x, y) in enumerate(zip(outa, outb)) if x != y),
                     min(len(outa), len(outb)))
            self.failures.append("%s: stdout differs (%d vs %d bytes), first difference at byte "
                                 "%d: without %r, with %r" % (name, len(outa), len(outb), i,
                                                               outa[i:i + 60], outb[i:i + 60]))
        if compare_stderr and erra != errb:
            self.failures.append("%s: stderr differs:\nwithout: %r\nwith: %r" % (
                name, erra[:500], errb[:500]))
        bad = [ln for ln in errb.decode("utf-8", "replace").splitlines()
               if "btcrash" in ln.lower()]
        if bad:
            self.failures.append("%s: btcrash lines on stderr with the library: %r" % (
                name, bad[:5]))
        if os.path.isdir(db):
            files = sorted(os.listdir(db))
            if files:
                self.failures.append("%s: the crash database %s is not empty: %r" % (
                    name, db, files))

    def finish(self):
        shutil.rmtree(self.tmp, ignore_errors=True)
        if self.failures:
            print("\n%d FAILURE(S):" % len(self.failures))
            for i, f in enumerate(self.failures, 1):
                print("%d. %s" % (i, f))
            return 1
        print("PASS")
        return 0


def need(*progs):
    """The paths of @progs, or None (and a line saying it is skipped)."""
    found = [shutil.which(p) for p in progs]
    missing = [p for p, f in zip(progs, found) if not f]
    if missing:
        print("SKIPPED: %s not installed" % ", ".join(missing), flush=True)
        return None
    return found


# ---------------------------------------------------------------------------

PY_SCRIPT = r'''
import hashlib, subprocess, sys, threading, json, zlib
from concurrent.futures import ThreadPoolExecutor

def work(i):
    h = hashlib.sha256()
    for j in range(2000):
        h.update(b"%d:%d" % (i, j))
    return i, h.hexdigest()

with ThreadPoolExecutor(max_workers=8) as ex:
    res = sorted(ex.map(work, range(64)))
for i, d in res[:5] + res[-5:]:
    print(i, d)

lock = threading.Lock()
total = [0]
def add(n):
    for k in range(n):
        with lock:
            total[0] += k
ts = [threading.Thread(target=add, args=(5000,)) for _ in range(16)]
[t.start() for t in ts]
[t.join() for t in ts]
print("total", total[0])

out = subprocess.run(["sort", "-n"], input=b"3\n1\n2\n", capture_output=True, timeout=60)
print("sort", out.stdout, out.returncode)
out = subprocess.run([sys.executable, "-c", "import sys; print(sum(range(10**6))); sys.exit(3)"],
                     capture_output=True, timeout=60)
print("child", out.stdout.strip().decode(), out.returncode)
with open("words.txt", "rb") as f:
    data = f.read()
print("crc", zlib.crc32(data), "json", json.dumps({"n": len(data), "z": len(zlib.compress(data))}))
sys.exit(5)
'''


def case_python3(c):
    py = "/usr/bin/python3" if os.path.exists("/usr/bin/python3") else None
    py = py or (need("python3") or [None])[0]
    if not py:
        return SKIP
    c.compare("python3 script", [py, "-c", PY_SCRIPT], expect_rc=5)
    c.compare("python3 -c print", [py, "-c", "print('hello', 6*7)"])
    c.compare("python3 exception", [py, "-c", "raise SystemExit(9)"], expect_rc=9)


def case_perl(c):
    if not need("perl"):
        return SKIP
    c.compare("perl squares", ["perl", "-e", 'print join(",", map { $_ * $_ } 1..2000), "\n"'])
    c.compare("perl -ne sum", ["perl", "-ne", '$s += $_; END { print "$s\n" }', "numbers.txt"])
    c.compare("perl -lane count", ["perl", "-lane", '$h{$F[0]}++; END { print "$_ $h{$_}" '
                                   'for sort keys %h }', "words.txt"])
    c.compare("perl sort/regex", ["perl", "-e", 'my @a = map { sprintf "k%05d", ($_ * 7919) '
                                  '% 10007 } 1..20000; my @m = grep { /7$/ } sort @a; '
                                  'print scalar(@m), " $m[0] $m[-1]\n"'])
    c.compare("perl die", ["perl", "-e", 'print "before\n"; exit 4'], expect_rc=4)


def case_bash(c):
    if not need("bash", "md5sum"):
        return SKIP
    c.compare("seq|sort -r|head|md5sum", ["bash", "-c", "seq 1 100000 | sort -r | head | md5sum"])
    c.compare("bash pipeline words", ["bash", "-c", "cut -d' ' -f1 words.txt | sort | uniq -c "
                                      "| sort -rn | head -3; tr a-z A-Z < words.txt | tail -2"])
    c.compare("bash loop/subshells", ["bash", "-c", 's=0; for i in $(seq 1 300); do '
                                      's=$((s + $(echo $i | wc -c))); done; echo $s; '
                                      '( exit 3 ); echo $?'])
    c.compare("bash pipefail status", ["bash", "-c", "set -o pipefail; seq 1 10 | "
                                       "grep -q nomatch | cat; exit $?"], expect_rc=1)


def case_coreutils(c):
    c.compare("ls -l", ["ls", "-l", "--time-style=+%s", "tree"])
    c.compare("ls -R", ["ls", "-laR", "--time-style=+%s", "."])
    c.compare("sort -n", ["sort", "-n", "numbers.txt"])
    c.compare("sort -u words", ["sort", "-u", "-k2,2", "-k3,3n", "words.txt"])
    c.compare("wc", ["wc", "numbers.txt", "words.txt", "blob.bin"])
    c.compare("sha256sum", ["sha256sum", "numbers.txt", "words.txt", "blob.bin"])
    c.compare("head/tail/cut", ["sh", "-c", "head -c 4096 blob.bin | od -An -tx1 | tail -3; "
                                "cut -c1-3 words.txt | sort | uniq | wc -l"])
    c.compare("du -b", ["du", "-ab", "tree"])
    c.compare("cat missing", ["cat", "no-such-file"], expect_rc=1)


def case_gzip(c):
    if not need("gzip", "gunzip", "md5sum"):
        return SKIP
    c.compare("gzip|gunzip text", ["sh", "-c", "gzip -c numbers.txt | gunzip -c | md5sum; "
                                   "md5sum < numbers.txt"])
    c.compare("gzip|gunzip binary", ["sh", "-c", "gzip -9 -c blob.bin | gunzip -c | cmp - "
                                     "blob.bin && echo same"])
    c.compare("gzip -c bytes", ["gzip", "-n", "-6", "-c", "words.txt"])
    c.compare("gunzip bad input", ["sh", "-c", "echo notgzip | gunzip -c"], expect_rc=1)


def case_threads2000(c):
    c.compare("many_threads 2000", [os.path.join(c.progs, "many_threads"), "2000"])


def case_fork_exec300(c):
    c.compare("fork_exec 300 /bin/true", [os.path.join(c.progs, "fork_exec"), "300",
                                          "/bin/true"])


JAVA_SRC = r'''
public class Hello {
    public static void main(String[] args) throws Exception {
        final long[] sums = new long[8];
        Thread[] ts = new Thread[8];
        for (int i = 0; i < 8; i++) {
            final int k = i;
            ts[i] = new Thread(() -> { long s = 0; for (int j = 0; j < 1000000; j++) s += j % (k + 3); sums[k] = s; });
            ts[i].start();
        }
        for (Thread t : ts) t.join();
        StringBuilder sb = new StringBuilder();
        for (long s : sums) sb.append(s).append(' ');
        System.out.println("sums " + sb.toString().trim());
        try { Object o = null; o.hashCode(); } catch (NullPointerException e) { System.out.println("caught NPE"); }
        int[] a = new int[1];
        try { a[2] = 1; } catch (ArrayIndexOutOfBoundsException e) { System.out.println("caught AIOOBE"); }
        System.exit(7);
    }
}
'''


def case_java(c):
    found = need("java")
    if not found:
        return SKIP
    # java -version writes to stderr; compare it too.
    c.compare("java -version", ["java", "-version"], compare_stderr=True)
    if not shutil.which("javac"):
        print("SKIPPED: javac not installed (tiny class not compiled)")
        return None
    with open(os.path.join(c.data, "Hello.java"), "w") as f:
        f.write(JAVA_SRC)
    try:
        r = subprocess.run(["javac", "Hello.java"], cwd=c.data, capture_output=True,
                           timeout=RUN_TIMEOUT, env=c.env(os.path.join(c.tmp, "db-none"), False))
    except subprocess.TimeoutExpired:
        c.failures.append("HANG: javac did not finish within %d s" % RUN_TIMEOUT)
        return None
    if r.returncode != 0:
        c.failures.append("javac Hello.java failed: %s" % r.stderr.decode("utf-8", "replace"))
        return None
    c.compare("java Hello (threads, NPE)", ["java", "-cp", ".", "Hello"], expect_rc=7)
    return None


NODE_SCRIPT = r'''
const { execFileSync } = require("child_process");
const crypto = require("crypto");
const fs = require("fs");
let h = crypto.createHash("sha256");
for (let i = 0; i < 100000; i++) h.update(String(i));
console.log("hash", h.digest("hex"));
console.log("sort", execFileSync("sort", ["-n"], { input: "3\n1\n2\n" }).toString().trim().split("\n").join(","));
const words = fs.readFileSync("words.txt", "utf8").split("\n").length;
console.log("lines", words);
try { null.x; } catch (e) { console.log("caught", e.constructor.name); }
Promise.all([1, 2, 3].map(x => new Promise(r => setTimeout(() => r(x * 2), 10))))
  .then(v => { console.log("promises", v.join(",")); process.exitCode = 6; });
'''


def case_node(c):
    if not need("node"):
        return SKIP
    c.compare("node -e script", ["node", "-e", NODE_SCRIPT], expect_rc=6)
    c.compare("node -e print", ["node", "-e", "console.log(process.version.length > 0, 6*7)"])
    return None


CASES = {
    "python3": case_python3,
    "perl": case_perl,
    "bash": case_bash,
    "coreutils": case_coreutils,
    "gzip": case_gzip,
    "threads2000": case_threads2000,
    "fork_exec300": case_fork_exec300,
    "java": case_java,
    "node": case_node,
}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--lib")
    ap.add_argument("--progs")
    ap.add_argument("--verbose", "-v", action="store_true")
    ap.add_argument("--list", action="store_true")
    ap.add_argument("case", nargs="?")
    a = ap.parse_args()
    if a.list:
        print("\n".join(CASES))
        return 0
    if a.case not in CASES or not a.lib:
        ap.error("--lib and a case (%s) are needed" % ", ".join(CASES))
    if not os.path.exists(a.lib):
        print("FAIL: %s does not exist (is the product built?)" % a.lib)
        return 1
    c = Ctx(a)
    print("case %s (data in %s)" % (a.case, c.data), flush=True)
    # The library must really be loaded in the "with" runs.
    maps = subprocess.run(["/bin/cat", "/proc/self/maps"], env=c.env(os.path.join(c.tmp, "db-x"), True),
                          capture_output=True, timeout=30).stdout.decode("utf-8", "replace")
    if os.path.realpath(c.lib) not in maps and c.lib not in maps:
        print("FAIL: LD_PRELOAD=%s is not loaded in `cat /proc/self/maps`" % c.lib)
        shutil.rmtree(c.tmp, ignore_errors=True)
        return 1
    try:
        rc = CASES[a.case](c)
    except BaseException:
        shutil.rmtree(c.tmp, ignore_errors=True)
        raise
    if rc == SKIP and not c.failures:
        shutil.rmtree(c.tmp, ignore_errors=True)
        return SKIP
    return c.finish()


if __name__ == "__main__":
    sys.exit(main())
