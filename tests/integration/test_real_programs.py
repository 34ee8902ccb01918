"""Real programs unchanged under the library (issue 5, point 6).

Each test runs one program's commands twice, without and with
LD_PRELOAD=libbtcrash.so, in the same directory over the same generated
input files, and checks:
  - stdout is byte-identical, and so is the exit status (the raw wait
    status: an exit code or a death by signal); where the output is known
    (short, or a count), it is that exactly;
  - with the library, the fresh BACKTRACE_DATABASE_PATH stays empty (no
    report was made), stderr has no line mentioning btcrash, and nothing of
    the process group outlives it.

Programs: python3 (threads, subprocess, hashing), perl (one-liners), bash
(pipelines), coreutils (ls, sort, wc, ... on generated files), gzip
(gzip -c | gunzip -c round trips), threads2000 (a C program creating 2,000
threads, in batches, joined), fork_exec300 (a C program forking and
exec'ing /bin/true 300 times, checking every exit status), java
(`java -version`), javac (a tiny class compiled and run), node (`node -e`).
A test whose program is not installed is skipped.
"""

import os
import shutil

import pytest

from conftest import run

pytestmark = pytest.mark.real_programs

RUN_TIMEOUT = 120

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

def mod_sum(n, m):
    """sum(j % m for j in range(n))"""
    q, r = divmod(n, m)
    return q * m * (m - 1) // 2 + r * (r - 1) // 2


# program -> (what it needs installed, [(what, argv, options of compare())]).
# argv[0] "python3" is /usr/bin/python3 when there is one; many_threads and
# fork_exec are the build's test programs.
CASES = {
    "python3": (["python3"], [
        ("python3 script", ["python3", "-c", PY_SCRIPT], dict(rc=5)),
        ("python3 -c print", ["python3", "-c", "print('hello', 6*7)"], dict(out=b"hello 42\n")),
        ("python3 exception", ["python3", "-c", "raise SystemExit(9)"], dict(rc=9, out=b"")),
    ]),
    "perl": (["perl"], [
        ("perl squares", ["perl", "-e", 'print join(",", map { $_ * $_ } 1..2000), "\n"'],
         dict(out=(",".join(str(i * i) for i in range(1, 2001)) + "\n").encode())),
        ("perl -ne sum", ["perl", "-ne", '$s += $_; END { print "$s\n" }', "numbers.txt"], {}),
        ("perl -lane count", ["perl", "-lane", '$h{$F[0]}++; END { print "$_ $h{$_}" '
                              'for sort keys %h }', "words.txt"],
         dict(out=b"".join(b"%s 6250\n" % w for w in sorted(
             [b"alpha", b"beta", b"gamma", b"delta", b"epsilon", b"zeta", b"eta", b"theta"])))),
        ("perl sort/regex", ["perl", "-e", 'my @a = map { sprintf "k%05d", ($_ * 7919) '
                             '% 10007 } 1..20000; my @m = grep { /7$/ } sort @a; '
                             'print scalar(@m), " $m[0] $m[-1]\n"'], {}),
        ("perl die", ["perl", "-e", 'print "before\n"; exit 4'], dict(rc=4, out=b"before\n")),
    ]),
    "bash": (["bash", "md5sum"], [
        ("seq|sort -r|head|md5sum", ["bash", "-c", "seq 1 100000 | sort -r | head | md5sum"], {}),
        ("bash pipeline words", ["bash", "-c", "cut -d' ' -f1 words.txt | sort | uniq -c "
                                 "| sort -rn | head -3; tr a-z A-Z < words.txt | tail -2"], {}),
        # 9 one-digit, 90 two-digit, 201 three-digit numbers, each and a newline.
        ("bash loop/subshells", ["bash", "-c", 's=0; for i in $(seq 1 300); do '
                                 's=$((s + $(echo $i | wc -c))); done; echo $s; '
                                 '( exit 3 ); echo $?'], dict(out=b"1092\n3\n")),
        ("bash pipefail status", ["bash", "-c", "set -o pipefail; seq 1 10 | "
                                  "grep -q nomatch | cat; exit $?"], dict(rc=1, out=b"")),
    ]),
    "coreutils": ([], [
        ("ls -l", ["ls", "-l", "--time-style=+%s", "tree"], {}),
        ("ls -R", ["ls", "-laR", "--time-style=+%s", "."], {}),
        ("sort -n", ["sort", "-n", "numbers.txt"], {}),
        ("sort -u words", ["sort", "-u", "-k2,2", "-k3,3n", "words.txt"], {}),
        ("wc", ["wc", "numbers.txt", "words.txt", "blob.bin"], {}),
        ("sha256sum", ["sha256sum", "numbers.txt", "words.txt", "blob.bin"], {}),
        ("head/tail/cut", ["sh", "-c", "head -c 4096 blob.bin | od -An -tx1 | tail -3; "
                           "cut -c1-3 words.txt | sort | uniq | wc -l"], {}),
        ("du -b", ["du", "-ab", "tree"], {}),
        ("cat missing", ["cat", "no-such-file"], dict(rc=1, out=b"")),
    ]),
    "gzip": (["gzip", "gunzip", "md5sum"], [
        ("gzip|gunzip text", ["sh", "-c", "gzip -c numbers.txt | gunzip -c | md5sum; "
                              "md5sum < numbers.txt"], dict(same_lines=True)),
        ("gzip|gunzip binary", ["sh", "-c", "gzip -9 -c blob.bin | gunzip -c | cmp - "
                                "blob.bin && echo same"], dict(out=b"same\n")),
        ("gzip -c bytes", ["gzip", "-n", "-6", "-c", "words.txt"], {}),
        ("gunzip bad input", ["sh", "-c", "echo notgzip | gunzip -c"], dict(rc=1, out=b"")),
    ]),
    "threads2000": ([], [("many_threads 2000", ["many_threads", "2000"],
                          dict(out=b"threads 2000 sum 1999000\n"))]),
    "fork_exec300": ([], [("fork_exec 300 /bin/true", ["fork_exec", "300", "/bin/true"],
                           dict(out=b"children 300 ok 300\n"))]),
    # java -version writes to stderr; compare it too.
    "java": (["java"], [("java -version", ["java", "-version"], dict(stderr=True, out=b""))]),
    "javac": (["java", "javac"], [
        ("java Hello (threads, NPE)", ["java", "-cp", ".", "Hello"],
          dict(rc=7, out=b"sums %s\ncaught NPE\ncaught AIOOBE\n" % b" ".join(
             b"%d" % mod_sum(1000000, k + 3) for k in range(8)))),
    ]),
    "node": (["node"], [
        ("node -e script", ["node", "-e", NODE_SCRIPT], dict(rc=6)),
        ("node -e print", ["node", "-e", "console.log(process.version.length > 0, 6*7)"],
         dict(out=b"true 42\n")),
    ]),
}


def find(name):
    if name == "python3" and os.path.exists("/usr/bin/python3"):
        return "/usr/bin/python3"
    return shutil.which(name)


def resolve(build, name):
    if name in ("many_threads", "fork_exec"):
        return build.prog(name)
    return find(name) if name == "python3" else name


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    """Deterministic inputs: numbers, words, a binary-ish file, a tree."""
    d = str(tmp_path_factory.mktemp("data"))
    with open(os.path.join(d, "numbers.txt"), "w") as f:
        for i in range(200000):
            f.write("%d\n" % ((i * 7919) % 100003))
    words = ["alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta", "theta"]
    with open(os.path.join(d, "words.txt"), "w") as f:
        for i in range(50000):
            f.write("%s %s %d\n" % (words[i % 8], words[(i * 3) % 8], i % 97))
    with open(os.path.join(d, "blob.bin"), "wb") as f:
        x = 12345
        buf = bytearray()
        for _ in range(1 << 20):
            x = (x * 1103515245 + 12345) & 0x7FFFFFFF
            buf.append(x >> 16 & 0xFF)
        f.write(bytes(buf))
    os.makedirs(os.path.join(d, "tree", "sub"))
    for i in range(20):
        with open(os.path.join(d, "tree", "f%02d.txt" % i), "w") as f:
            f.write("x" * (i * 37))
    for p in [os.path.join(dp, n) for dp, dns, fns in os.walk(d) for n in dns + fns] + [d]:
        os.utime(p, (1700000000, 1700000000))
    return d


def compare(btc, check, cwd, what, argv, rc=0, out=None, stderr=False, same_lines=False):
    """Runs @argv without and with the library, in @cwd: the same stdout
    (and stderr if @stderr) and wait status; exit @rc (None: any); stdout
    exactly @out if given, or (@same_lines) two equal lines; with the
    library no report, no btcrash line on stderr, no process left."""
    db = os.path.join(btc.newdir("db"), "db")
    a = run(argv, btc.env(os.path.join(btc.newdir("db"), "none")), cwd, timeout=RUN_TIMEOUT)
    b = run(argv, btc.env(db, LD_PRELOAD=btc.build.lib), cwd, timeout=RUN_TIMEOUT)
    print("%-28s without: %s, %d bytes, %.3f s | with: %s, %d bytes, %.3f s" % (
        what, a.describe(), len(a.stdout), a.death_mono - a.start_mono, b.describe(),
        len(b.stdout), b.death_mono - b.start_mono))
    if rc is not None:
        check.eq(a.describe(), "exited %d" % rc, "%s: without the library (the test's "
                 "expectation; stderr: %s)" % (what, a.err[-500:]))
    check.eq(b.describe(), a.describe(), "%s: exit status with the library (as without); "
             "stderr with:\n%s" % (what, b.err[-1500:]))
    if a.stdout != b.stdout:
        i = next((i for i, (x, y) in enumerate(zip(a.stdout, b.stdout)) if x != y),
                 min(len(a.stdout), len(b.stdout)))
        check.fail("%s: stdout differs (%d vs %d bytes), first difference at byte %d: without "
                   "%r, with %r" % (what, len(a.stdout), len(b.stdout), i,
                                    a.stdout[i:i + 60], b.stdout[i:i + 60]))
    if out is not None:
        check.eq(a.stdout, out, "%s: stdout" % what)
    if same_lines:
        lines = a.stdout.splitlines()
        check(len(lines) == 2 and lines[0] == lines[1], "%s: the two lines differ (the round "
              "trip changed the data): %r" % (what, a.stdout))
    if stderr:
        check.eq(b.stderr, a.stderr, "%s: stderr with the library (as without)" % what)
    bad = [ln for ln in b.err.splitlines() if "btcrash" in ln.lower()]
    check.eq(bad[:5], [], "%s: btcrash lines on stderr with the library" % what)
    check.eq(sorted(os.listdir(db)) if os.path.isdir(db) else [], [],
             "%s: files in the crash database %s" % (what, db))
    check(not b.lingering, "%s: its process group outlived it: %r" % (what, b.lingering))


@pytest.mark.parametrize("program", list(CASES))
def test_real_program(btc, build, check, data, program):
    needs, cmds = CASES[program]
    missing = [p for p in needs if not find(p)]
    if missing:
        pytest.skip("%s not installed" % ", ".join(missing))
    # The library must really be loaded in the "with" runs.
    maps = run(["/bin/cat", "/proc/self/maps"], btc.env(btc.newdir("db"), LD_PRELOAD=build.lib),
               data).out
    if os.path.realpath(build.lib) not in maps and build.lib not in maps:
        pytest.fail("LD_PRELOAD=%s is not loaded in `cat /proc/self/maps`" % build.lib)
    if program == "javac":
        with open(os.path.join(data, "Hello.java"), "w") as f:
            f.write(JAVA_SRC)
        r = run(["javac", "Hello.java"], btc.env(btc.newdir("db")), data, timeout=RUN_TIMEOUT)
        if r.exitcode != 0:
            pytest.fail("javac Hello.java %s: %s" % (r.describe(), r.err))
    for what, argv, opts in cmds:
        compare(btc, check, data, what, [resolve(build, argv[0])] + argv[1:], **opts)
