#!/usr/bin/env bash
# btcrash against eu-stack and gdb (issue 11, point 5), side by side in one
# run, on three programs:
#   python  CPython 3.11 (Debian's python3.11-dbg), 200 levels of recursion
#           through C (sorted() with a key function that recurses), then a
#           fault in a C call (ctypes.string_at(0): strlen(NULL));
#   deep    deep3000 from the build (gen_deep.py): 3000 functions in one
#           unit, faulting 3000 frames deep;
#   small   a NULL write three calls deep.
#
# btcrash: crash to death. Each program prints CLOCK_MONOTONIC on stderr
# just before its fault (FAULT_MONO_NS); the driver, its parent, takes the
# moment of death from a pidfd (readable when the process has exited, before
# it is reaped). Local mode, a fresh BACKTRACE_DATABASE_PATH for each crash,
# no server, BACKTRACE_TIMEOUT=T (default 60, so that the deadline does not
# cut the work short; the report says whether it is complete), core dumps
# off. As a cross-check, the whole run under btcrash minus the whole run of
# the same program crashing without it (wall and CPU time; the CPU time
# includes the helper's, which the driver reaps as a child subreaper).
#
# eu-stack and gdb: the same program run with BTC_BENCH_PAUSE=1, which makes
# it stop itself (SIGSTOP, in a loop) where it would fault, within one frame
# of the fault's depth (kill in place of the faulting call; for Python, kill
# called through ctypes as string_at is): "eu-stack -n 0 -i -s -p PID" and
# "gdb -nx -batch -p PID -ex 'thread apply all bt'", wall time of the whole
# command. -nx skips only ~/.gdbinit: gdb still auto-loads Debian's
# python3.11-dbg-gdb.py, as any user's gdb does, and prints frame arguments
# that are Python objects through it. DEBUGINFOD_URLS is unset for all.
# Also "eu-stack -n K -i -s", K being the number of frames btcrash reported:
# btcrash stops at 1024 frames (BTC_UNWIND_MAX_FRAMES) while eu-stack -n 0
# has no limit, so this is the like-for-like column.
#
# Rounds are interleaved (each round runs every measurement once, in a
# rotating order) so that load from others on a shared machine hits all
# alike; the table gives medians. The warm-up crash runs with
# BACKTRACE_DEBUG_BACKTRACE=1, for the times of the helper's steps. Frame
# counts are those of the faulting (or paused) thread; every program here
# has one thread.
#
# usage: bench/vs_debuggers.sh [BUILD_DIR] [ROUNDS] [BACKTRACE_TIMEOUT] [PROGRAMS]
#        (defaults: ./build, 5, 60, python,deep,small)
set -euo pipefail
build=$(cd "${1:-build}" && pwd)
rounds=${2:-5}
timeout=${3:-60}
programs=${4:-python,deep,small}

for tool in eu-stack gdb python3.11-dbg python3 cc cmake; do
    command -v "$tool" >/dev/null || {
        echo "$tool is needed (apt-get install elfutils gdb python3.11-dbg python3 gcc cmake)" >&2
        exit 2
    }
done
[ -f "$build/CMakeCache.txt" ] || { echo "$build is not a cmake build directory" >&2; exit 2; }
cmake --build "$build" --target btcrash btcrash_cli deep3000 >/dev/null ||
    { echo "building btcrash, btcrash_cli and deep3000 in $build failed" >&2; exit 2; }
lib=$build/lib/libbtcrash.so
deep=$build/tests/integration/progs/deep3000
for f in "$lib" "$build/bin/btcrash" "$deep"; do
    [ -e "$f" ] || { echo "no $f after the build" >&2; exit 2; }
done

work=$(mktemp -d)
# The driver kills what it paused; this is for a driver that was itself
# killed. SIGKILL ends a stopped process; SIGCONT is for good measure.
cleanup() {
    if [ -f "$work/paused" ]; then
        while read -r pid; do
            kill -KILL "$pid" 2>/dev/null || true
            kill -CONT "$pid" 2>/dev/null || true
        done < "$work/paused"
    fi
    rm -rf "$work"
}
trap cleanup EXIT
driver=
# The driver runs in the background, so that a signal to this script is
# handled at once (bash runs a trap only after the foreground command ends).
trap '[ -z "$driver" ] || { kill -TERM "$driver" 2>/dev/null; wait "$driver"; }; exit 130' INT TERM

cat > "$work/deep.py" <<'PY'
import ctypes, os, signal, sys, time

def down(n):
    if n == 0:
        if os.environ.get("BTC_BENCH_PAUSE"):
            # Through ctypes as the fault is, so the stacks have one depth.
            kill = ctypes.CDLL(None).kill
            while True:
                kill(os.getpid(), signal.SIGSTOP)
        sys.stderr.write("FAULT_MONO_NS %d\n" % time.clock_gettime_ns(time.CLOCK_MONOTONIC))
        sys.stderr.flush()
        ctypes.string_at(0)
    return sorted([n], key=lambda _: down(n - 1))[0]

down(int(sys.argv[1]))
PY

cat > "$work/small.c" <<'C'
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>
int *volatile g_target;
__attribute__((noinline)) static void c(void) {
    struct timespec t;
    while (getenv("BTC_BENCH_PAUSE"))
        kill(getpid(), SIGSTOP);
    clock_gettime(CLOCK_MONOTONIC, &t);
    fprintf(stderr, "FAULT_MONO_NS %lld\n", (long long)t.tv_sec * 1000000000LL + t.tv_nsec);
    fflush(stderr);
    *g_target = 1;
}
__attribute__((noinline)) static void b(void) { c(); }
__attribute__((noinline)) static void a(void) { b(); }
int main(void) { a(); return 0; }
C
cc -g -O0 -o "$work/small" "$work/small.c"

python3 - "$work" "$lib" "$rounds" "$timeout" "$(command -v python3.11-dbg)" "$deep" "$programs" <<'PY' &
import ctypes, json, os, re, resource, select, signal, statistics, subprocess, sys, time

work, lib, rounds, timeout, pydbg, deep, wanted = sys.argv[1:8]
rounds = int(rounds)
PROGS = [("python", [pydbg, os.path.join(work, "deep.py"), "200"]),
         ("deep", [deep]),
         ("small", [os.path.join(work, "small")])]
unknown = set(wanted.split(",")) - {name for name, _ in PROGS}
if unknown:
    sys.exit("vs_debuggers: no program %s (python, deep, small)" % ", ".join(sorted(unknown)))
PROGS = [(name, argv) for name, argv in PROGS if name in wanted.split(",")]
PAUSED = os.path.join(work, "paused")

# Helpers orphaned by the crashed process come to us, so that their CPU
# time can be counted (wait4).
PR_SET_CHILD_SUBREAPER = 36
ctypes.CDLL(None, use_errno=True).prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))


def fail(msg):
    sys.exit("vs_debuggers: " + msg)


def base_env():
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("BACKTRACE_", "DEBUGINFOD_")) and k != "LD_PRELOAD"}
    env["LC_ALL"] = "C"
    return env


def no_core():
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


def children(skip):
    """Our children (pids), but for @skip: orphaned helpers once their
    crashed parent is gone, live or zombies."""
    me, found = os.getpid(), []
    for d in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open("/proc/%s/stat" % d) as f:
                ppid = int(f.read().rsplit(")", 1)[1].split()[1])
        except OSError:
            continue
        if ppid == me and int(d) not in skip:
            found.append(int(d))
    return found


def crash(argv, db, preload, skip=(), debug=False):
    """One crashing run: (fault -> death s, whole run s, CPU s, stderr)."""
    env = base_env()
    if debug:
        env["BACKTRACE_DEBUG_BACKTRACE"] = "1"
    env["BACKTRACE_DATABASE_PATH"] = db
    env["BACKTRACE_TIMEOUT"] = timeout
    if preload:
        env["LD_PRELOAD"] = lib
    errf = os.path.join(work, "crash.err")
    with open(errf, "wb") as err:
        t0 = time.monotonic()
        p = subprocess.Popen(argv, env=env, cwd=work, stdin=subprocess.DEVNULL,
                             stdout=subprocess.DEVNULL, stderr=err, preexec_fn=no_core)
        pidfd = os.pidfd_open(p.pid)
        ready, _, _ = select.select([pidfd], [], [], float(timeout) + 30)
        death = time.monotonic()
        os.close(pidfd)
        if not ready:
            p.kill()
            p.wait()
            fail("%s did not die within %s s + 30 s" % (argv[0], timeout))
        _, status, ru = os.wait4(p.pid, 0)
        p.returncode = -1
    cpu = ru.ru_utime + ru.ru_stime
    # A helper still at work, or done but not reaped, is now ours: wait for
    # it (outside the timing) and count its CPU time.
    end = time.monotonic() + float(timeout) + 10
    while True:
        left = children(skip)
        for pid in left:
            try:
                done, _, hru = os.wait4(pid, os.WNOHANG)
            except ChildProcessError:
                continue
            if done:
                cpu += hru.ru_utime + hru.ru_stime
        if not left:
            break
        if time.monotonic() > end:
            fail("%s: its helpers %r still run %s s after its death" % (argv[0], left, timeout))
        time.sleep(0.01)
    if not os.WIFSIGNALED(status) or os.WTERMSIG(status) != signal.SIGSEGV:
        fail("%s: expected death by SIGSEGV, got status %#x" % (argv[0], status))
    text = open(errf, errors="replace").read()
    m = re.search(r"^FAULT_MONO_NS (\d+)$", text, re.M)
    if not m:
        fail("%s printed no FAULT_MONO_NS:\n%s" % (argv[0], text[-2000:]))
    return death - int(m.group(1)) / 1e9, death - t0, cpu, text


def phases(text):
    """The helper's steps and when they ended (ms after the fault), from
    its debug output."""
    return [(what or "first report stored", float(ms)) for what, ms in
            re.findall(r"(?:report stored as \S+|stored report improved with (.*)), "
                        r"([0-9.]+) ms after the fault", text)]


def report_frames(db):
    """The crash's report: (frames of the faulting thread, all frames,
    how the walk ended: None for the whole stack kept, else what the report
    says (frames left out between the innermost and the outermost, or the
    walk's limit), what the report says it lacks)."""
    names = [n for n in os.listdir(db) if n.endswith(".json")]
    if len(names) != 1:
        fail("%s: %d reports, expected 1" % (db, len(names)))
    with open(os.path.join(db, names[0])) as f:
        rep = json.load(f)
    threads = rep["threads"]
    crash_notes = rep.get("annotations", {}).get("Crash", {})
    main = threads[str(rep["mainThread"])]
    cut = None
    if main.get("frames_omitted"):
        cut = "%d frames walked, %d left out after the innermost %d" % (
            len(main["stack"]) + main["frames_omitted"], main["frames_omitted"],
            main.get("frames_omitted_at", 0))
    elif any("frame limit" in str(v) for v in crash_notes.get("unwind", {}).values()):
        cut = "stopped at the frame limit"
    return (len(main["stack"]),
            sum(len(t.get("stack", [])) for t in threads.values()), cut,
            crash_notes.get("incomplete"))


def pause(argv):
    env = base_env()
    env["BTC_BENCH_PAUSE"] = "1"
    p = subprocess.Popen(argv, env=env, cwd=work, stdin=subprocess.DEVNULL,
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, preexec_fn=no_core)
    with open(PAUSED, "a") as f:
        f.write("%d\n" % p.pid)
    end = time.monotonic() + 60
    while time.monotonic() < end:
        with open("/proc/%d/stat" % p.pid) as f:
            state = f.read().rsplit(")", 1)[1].split()[0]
        if state == "T":
            return p
        if p.poll() is not None:
            fail("%s BTC_BENCH_PAUSE=1 exited (%s) instead of stopping" % (argv[0], p.returncode))
        time.sleep(0.01)
    fail("%s BTC_BENCH_PAUSE=1 did not stop within 60 s" % argv[0])


def tool(argv):
    """(wall s, CPU s, output) of a tool's whole run."""
    outf = os.path.join(work, "tool.out")
    with open(outf, "wb") as out:
        t0 = time.monotonic()
        p = subprocess.Popen(argv, env=base_env(), stdin=subprocess.DEVNULL, stdout=out,
                             stderr=subprocess.STDOUT)
        _, status, ru = os.wait4(p.pid, 0)
        wall = time.monotonic() - t0
        p.returncode = -1
    text = open(outf, errors="replace").read()
    if not re.search(r"^#\d+ ", text, re.M):
        fail("%s (status %#x) printed no frame:\n%s" % (" ".join(argv), status, text[-2000:]))
    return wall, ru.ru_utime + ru.ru_stime, text


def eu_frames(text):
    return len(re.findall(r"^#\d+ ", text, re.M))


gdb_frames = eu_frames
med = statistics.median
rows = []
paused = []
load0 = open("/proc/loadavg").read().split()[0]
try:
    for name, argv in PROGS:
        n = [0]

        def fresh_db():
            n[0] += 1
            return os.path.join(work, "db-%s-%d" % (name, n[0]))

        # Warm-up (page cache, and btcrash's frame count K for eu-stack -n K),
        # with the helper's debug output for its steps' times.
        db = fresh_db()
        steps = phases(crash(argv, db, True, debug=True)[3])
        crash(argv, fresh_db(), False)
        k, k_all, cut, lacks = report_frames(db)
        p = pause(argv)
        paused.append(p)
        pid = str(p.pid)
        cmds = {"eu-stack": ["eu-stack", "-n", "0", "-i", "-s", "-p", pid],
                "eu-stack-K": ["eu-stack", "-n", str(k), "-i", "-s", "-p", pid],
                "gdb": ["gdb", "-nx", "-batch", "-p", pid, "-ex", "thread apply all bt"]}
        frames = {"eu-stack": eu_frames(tool(cmds["eu-stack"])[2]),
                  "eu-stack-K": eu_frames(tool(cmds["eu-stack-K"])[2]),
                  "gdb": gdb_frames(tool(cmds["gdb"])[2])}
        t = {key: [] for key in ("btcrash", "btc-whole", "btc-cpu", "plain-whole", "plain-cpu",
                                 "eu-stack", "eu-stack-cpu", "eu-stack-K", "gdb", "gdb-cpu")}
        jobs = ["btcrash", "plain", "eu-stack", "eu-stack-K", "gdb"]
        for r in range(rounds):
            for job in jobs[r % len(jobs):] + jobs[:r % len(jobs)]:
                if job == "btcrash":
                    db = fresh_db()
                    took, whole, cpu, _ = crash(argv, db, True, [p.pid])
                    t["btcrash"].append(took)
                    t["btc-whole"].append(whole)
                    t["btc-cpu"].append(cpu)
                    k_r, _, _, lacks_r = report_frames(db)
                    if k_r != k or lacks_r != lacks:
                        print("note: %s round %d: btcrash gave %d frames (lacks %r), warm-up %d (%r)"
                              % (name, r, k_r, lacks_r, k, lacks))
                elif job == "plain":
                    _, whole, cpu, _ = crash(argv, fresh_db(), False, [p.pid])
                    t["plain-whole"].append(whole)
                    t["plain-cpu"].append(cpu)
                else:
                    wall, cpu, _ = tool(cmds[job])
                    t[job].append(wall)
                    if job + "-cpu" in t:
                        t[job + "-cpu"].append(cpu)
        p.kill()
        p.wait()
        rows.append((name, k, k_all, cut, lacks, frames, {key: med(v) for key, v in t.items()}))
        print("%s: btcrash's steps in the warm-up crash (ms after the fault): %s" % (
            name, "; ".join("%s %.0f" % step for step in steps) or "none printed"))
finally:
    for p in paused:
        if p.poll() is None:
            p.kill()  # SIGKILL ends a stopped process too
            p.wait()

print("\n%d rounds, BACKTRACE_TIMEOUT=%s, %d CPUs, load average %s at the start, %s at the end;"
      " medians, ms" % (rounds, timeout, os.cpu_count(), load0,
                       open("/proc/loadavg").read().split()[0]))
hdr = "%-7s %9s %9s %11s %9s %12s %12s %14s" % (
    "program", "btcrash", "eu-stack", "eu-stack-K", "gdb", "btc/eu-stack", "btc/gdb", "btc/eu-stack-K")
print(hdr)
for name, k, _, _, _, _, m in rows:
    print("%-7s %9.1f %9.1f %11.1f %9.1f %12.3f %12.3f %14.3f" % (
        name, m["btcrash"] * 1e3, m["eu-stack"] * 1e3, m["eu-stack-K"] * 1e3, m["gdb"] * 1e3,
        m["btcrash"] / m["eu-stack"], m["btcrash"] / m["gdb"], m["btcrash"] / m["eu-stack-K"]))
print("\nframes of the faulting (paused) thread; K = btcrash's count")
print("%-7s %8s %9s %11s %6s  %s" % ("program", "btcrash", "eu-stack", "eu-stack-K", "gdb",
                                      "btcrash's report"))
for name, k, k_all, cut, lacks, frames, _ in rows:
    what = (cut or "whole stack") + (
        "; it lacks: %s" % lacks if lacks else "; nothing marked incomplete")
    print("%-7s %8d %9d %11d %6d  %s" % (name, k, frames["eu-stack"], frames["eu-stack-K"],
                                          frames["gdb"], what))
print("\nper frame, us (whole time / frames: start-up and attach costs included)")
print("%-7s %8s %9s %11s %6s" % ("program", "btcrash", "eu-stack", "eu-stack-K", "gdb"))
for name, k, _, _, _, frames, m in rows:
    print("%-7s %8.0f %9.0f %11.0f %6.0f" % (
        name, m["btcrash"] / k * 1e6, m["eu-stack"] / frames["eu-stack"] * 1e6,
        m["eu-stack-K"] / frames["eu-stack-K"] * 1e6, m["gdb"] / frames["gdb"] * 1e6))
print("\ncross-check: whole crashing run under btcrash minus the same run without it (wall"
      "\nand CPU), ms; CPU time (user+system) is less disturbed by a loaded machine: the"
      "\nprogram's and its helper's for btcrash, the tool's own for eu-stack and gdb")
print("%-7s %9s %8s %9s %12s %9s %11s %11s" % (
    "program", "wall diff", "btc/eu", "CPU diff", "eu-stack CPU", "gdb CPU", "CPU btc/eu", "CPU btc/gdb"))
for name, _, _, _, _, _, m in rows:
    wd, cd = m["btc-whole"] - m["plain-whole"], m["btc-cpu"] - m["plain-cpu"]
    print("%-7s %9.1f %8.3f %9.1f %12.1f %9.1f %11.3f %11.3f" % (
        name, wd * 1e3, wd / m["eu-stack"], cd * 1e3, m["eu-stack-cpu"] * 1e3,
        m["gdb-cpu"] * 1e3, cd / m["eu-stack-cpu"], cd / m["gdb-cpu"]))
PY
driver=$!
wait "$driver"
