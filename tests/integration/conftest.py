"""pytest fixtures of btcrash's integration tests (issue 9).

Real programs run under LD_PRELOAD=libbtcrash.so against real components
the tests start: a local receiver (receiver.py), the `btcrash` command.

    pytest tests/integration --btc-build build

ctest runs every test as one ctest test (tests/integration/CMakeLists.txt,
btc_pytest_tests), so `ctest -L security` and `pytest -k security` select
the same cases.

What a test gets:
- `build`: the built product and test programs (session);
- `check`: soft assertions; every failure of a test is reported, at its
  teardown, not only the first;
- `receiver`: a factory of local receivers, each stopped after the test;
- `db`: a fresh crash database path under tmp_path;
- `btc`: runs programs under the library and the `btcrash` command, with
  one result type (Result).
"""

import json
import os
import resource
import select
import signal
import subprocess
import tempfile
import time

import pytest

import receiver as rxmod

HERE = os.path.dirname(os.path.abspath(__file__))
RUN_TIMEOUT = 30       # any one run of a program or of the command
GRACE_S = 0.5          # DESIGN §1: dead no later than timeout + 0.5 s
HELPER_LINGER_S = 1.0  # after the deadline, how long a helper may still run
DEFAULT_TIMEOUT_S = 4.0


def pytest_addoption(parser):
    g = parser.getgroup("btcrash")
    g.addoption("--btc-build", default=os.environ.get("BTCRASH_BUILD", "build"),
                help="the CMake build tree (default: $BTCRASH_BUILD or ./build)")
    g.addoption("--btc-src", default=os.path.dirname(os.path.dirname(HERE)),
                help="the source tree (default: the one holding this conftest.py)")


# ---------------------------------------------------------------------------
# The build


class Build:
    """The build tree (.root, .lib, .helper, .progs: the test programs) and
    the sources (.source: the tree, .src: the test programs' sources)."""

    def __init__(self, root, source):
        self.root = os.path.abspath(root)
        self.lib = os.path.join(self.root, "lib", "libbtcrash.so")
        self.helper = os.path.join(self.root, "bin", "btcrash")
        self.progs = os.path.join(self.root, "tests", "integration", "progs")
        self.source = os.path.abspath(source)
        self.src = os.path.join(self.source, "tests", "integration", "progs")

    def prog(self, name):
        path = os.path.join(self.progs, name)
        if not os.path.exists(path):
            pytest.fail("%s does not exist: is the build tree %s built?" % (path, self.root))
        return path


@pytest.fixture(scope="session")
def build(request):
    b = Build(request.config.getoption("--btc-build"), request.config.getoption("--btc-src"))
    for p in (b.lib, b.helper):
        if not os.path.exists(p):
            pytest.fail("%s does not exist: is the build tree %s built?" % (p, b.root))
    return b


# ---------------------------------------------------------------------------
# Soft assertions


class Check:
    """Collects the failures of one test; the `check` fixture fails the test
    with all of them at teardown."""

    def __init__(self):
        self.failures = []

    def __call__(self, cond, msg):
        if not cond:
            self.failures.append(msg)
        return bool(cond)

    def eq(self, got, expected, what):
        if got != expected:
            self.failures.append("%s: expected %r, got %r" % (what, expected, got))
            return False
        return True

    def fail(self, msg):
        self.failures.append(msg)


@pytest.fixture
def check():
    c = Check()
    yield c
    if c.failures:
        pytest.fail("%d failure(s):\n%s" % (
            len(c.failures), "\n".join("%d. %s" % (i, f) for i, f in enumerate(c.failures, 1))),
            pytrace=False)


# ---------------------------------------------------------------------------
# Receivers and databases


@pytest.fixture
def receiver():
    """receiver(mode="ok", tls=False, delay=0.0): a started local receiver
    (receiver.py: modes "ok", "hang", "headers_only", "partial_body" or an
    HTTP status; .reply for a fixed answer); all are stopped when the test
    ends."""
    started = []

    def make(mode="ok", tls=False, delay=0.0):
        rx = rxmod.Receiver(mode=mode, tls=tls, delay=delay).start()
        started.append(rx)
        return rx

    yield make
    for rx in started:
        rx.stop()


@pytest.fixture
def db(tmp_path):
    return str(tmp_path / "db")


class Report:
    """One stored report and its state file."""

    def __init__(self, db, uuid):
        self.uuid = uuid
        self.json_path = os.path.join(db, uuid + ".json")
        self.state_path = os.path.join(db, uuid + ".state")
        with open(self.json_path, "rb") as f:
            self.raw = f.read()
        self.report = json.loads(self.raw)
        self.state = None
        if os.path.exists(self.state_path):
            with open(self.state_path, "rb") as f:
                self.state = json.loads(f.read())

    @property
    def state_name(self):
        return "pending" if self.state is None else self.state.get("state")


def reports(db):
    """uuid -> Report for every <uuid>.json in @db, oldest first."""
    out = {}
    if os.path.isdir(db):
        for name in os.listdir(db):
            if not name.startswith(".") and name.endswith(".json"):
                out[name[:-5]] = Report(db, name[:-5])
    return dict(sorted(out.items(), key=lambda kv: (kv[1].report.get("timestamp", 0), kv[0])))


def backoff_over(db):
    """Lets the time pass that failed attempts wait out: every pending
    report's next attempt is due now, and no endpoint is held back by a
    Retry-After. As `btcrash flush` would find it minutes later."""
    if not os.path.isdir(db):
        return
    for name in os.listdir(db):
        path = os.path.join(db, name)
        if name.endswith(".hold"):
            os.unlink(path)
        elif name.endswith(".state") and not name.startswith("."):
            with open(path) as f:
                st = json.load(f)
            if "next_attempt" in st:
                st["next_attempt"] = int(time.time()) - 1
                with open(path + ".tmp-test", "w") as f:
                    json.dump(st, f)
                os.chmod(path + ".tmp-test", 0o600)
                os.rename(path + ".tmp-test", path)


def all_files(root):
    """Every path below @root."""
    out = []
    for dirpath, dirnames, filenames in os.walk(root):
        out.extend(os.path.join(dirpath, n) for n in dirnames + filenames)
    return out


def uploads(check, requests, what):
    """uuid -> (request, {part name: bytes}) for @requests; a report sent
    twice is a failure."""
    out = {}
    for q in requests:
        try:
            parts = {p.name: p.data for p in q.multipart()}
        except ValueError as e:
            check.fail("%s: a request is not multipart: %s" % (what, e))
            continue
        try:
            u = json.loads(parts.get("upload_file", b"{}")).get("uuid")
        except ValueError:
            u = None
        check(u not in out, "%s: report %s was sent twice" % (what, u))
        out[u] = (q, parts)
    return out


# ---------------------------------------------------------------------------
# Running programs


class Result:
    """A finished process: raw wait status, output, and when it died."""

    def __init__(self, argv, pid, status, stdout, stderr, start_mono, death_mono, lingering):
        self.argv = argv
        self.pid = pid
        self.status = status
        self.stdout = stdout
        self.stderr = stderr
        self.start_mono = start_mono
        self.death_mono = death_mono
        self.lingering = lingering  # pids of its process group still alive after it
        self.took = None            # fault -> death, for a crash of timed_null
        self.cpu = None             # user + system seconds (run() sets it)

    out = property(lambda self: self.stdout.decode("utf-8", "replace"))
    err = property(lambda self: self.stderr.decode("utf-8", "replace"))
    termsig = property(lambda self: os.WTERMSIG(self.status)
                       if os.WIFSIGNALED(self.status) else None)
    exitcode = property(lambda self: os.WEXITSTATUS(self.status)
                        if os.WIFEXITED(self.status) else None)

    def describe(self):
        if os.WIFSIGNALED(self.status):
            return "killed by %s%s" % (signal.Signals(os.WTERMSIG(self.status)).name,
                                       " (core dumped)" if os.WCOREDUMP(self.status) else "")
        return "exited %d" % os.WEXITSTATUS(self.status)

    def fault_mono(self):
        """CLOCK_MONOTONIC (s) that timed_null printed just before its fault."""
        for line in self.err.splitlines():
            if line.startswith("FAULT_MONO_NS "):
                return int(line.split()[1]) / 1e9
        return None


def _child_setup():
    # Core dumps on, so that the core bit of the wait status is comparable.
    soft, hard = resource.getrlimit(resource.RLIMIT_CORE)
    try:
        resource.setrlimit(resource.RLIMIT_CORE, (resource.RLIM_INFINITY, resource.RLIM_INFINITY))
    except (ValueError, OSError):
        resource.setrlimit(resource.RLIMIT_CORE, (hard, hard))


def _group_alive(pgid):
    alive = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % d) as f:
                s = f.read()
        except OSError:
            continue
        rest = s[s.rfind(")") + 2:].split()
        if len(rest) > 2 and int(rest[2]) == pgid and rest[0] not in ("Z", "X"):
            alive.append(int(d))
    return alive


def run(argv, env, cwd, timeout=RUN_TIMEOUT, linger_wait=5.0, limits=(), on_start=None):
    """Runs @argv in its own session; the moment of death comes from a pidfd.
    @limits: (RLIMIT_x, value) pairs set in the child (value: both soft and
    hard limit, or a (soft, hard) pair); @on_start(popen,
    stdout file) is called once it runs. A hang is killed and fails the
    test. The Result's .cpu is the user and system time of the process and
    of the children it reaped (wait4)."""
    def setup():
        _child_setup()
        for res, v in limits:
            resource.setrlimit(res, v if isinstance(v, tuple) else (v, v))

    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        t0 = time.monotonic()
        p = subprocess.Popen(argv, env=env, cwd=cwd, stdin=subprocess.DEVNULL, stdout=out,
                             stderr=err, preexec_fn=setup, start_new_session=True)
        pidfd = os.pidfd_open(p.pid)
        try:
            if on_start:
                on_start(p, out)
            ready, _, _ = select.select([pidfd], [], [], max(t0 + timeout - time.monotonic(), 0))
            death = time.monotonic()
            if not ready:
                err.seek(0)
                pytest.fail("HANG: %s did not finish within %d s (killed); stderr:\n%s" % (
                    " ".join(argv), timeout, err.read().decode("utf-8", "replace")[-3000:]))
        except BaseException:
            _kill_group(p.pid)
            p.wait()
            raise
        finally:
            os.close(pidfd)
        _, status, rusage = os.wait4(p.pid, 0)
        p.returncode = -1  # reaped above; keeps Popen from waiting again
        end = time.monotonic() + linger_wait
        while True:
            lingering = _group_alive(p.pid)
            if not lingering or time.monotonic() > end:
                break
            time.sleep(0.02)
        if lingering:
            _kill_group(p.pid)
        out.seek(0)
        err.seek(0)
        r = Result(argv, p.pid, status, out.read(), err.read(), t0, death, lingering)
        r.cpu = rusage.ru_utime + rusage.ru_stime
        return r


def _kill_group(pgid):
    try:
        os.killpg(pgid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def base_env():
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("BACKTRACE_") and k != "LD_PRELOAD"}
    env["LC_ALL"] = "C"
    # Tests crash the same program again and again: no crash-loop
    # throttling unless a test asks for it (test_fleet.py).
    env["BACKTRACE_CRASH_LOOP_WINDOW"] = "0"
    return env


def helpers_of(db):
    """Live crash helpers working for the database @db."""
    want = b"BACKTRACE_DATABASE_PATH=" + db.encode()
    found = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open("/proc/%s/cmdline" % d, "rb") as f:
                if b"__crash-helper" not in f.read():
                    continue
            with open("/proc/%s/environ" % d, "rb") as f:
                env = f.read().split(b"\0")
            with open("/proc/%s/stat" % d) as f:
                state = f.read().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if want in env and state not in ("Z", "X"):
            found.append(int(d))
    return found


class Btc:
    """Runs programs under the library, and the `btcrash` command."""

    def __init__(self, build, tmp_path, check):
        self.build = build
        self.tmp = tmp_path
        self.check = check
        self.n = 0

    def newdir(self, name):
        self.n += 1
        p = self.tmp / ("%s-%d" % (name, self.n))
        p.mkdir()
        return str(p)

    def env(self, db, **extra):
        """base_env() with BACKTRACE_DATABASE_PATH=@db and @extra (None
        removes a variable)."""
        env = base_env()
        env["BACKTRACE_DATABASE_PATH"] = db
        for k, v in extra.items():
            if v is None:
                env.pop(k, None)
            else:
                env[k] = v
        return env

    def crash(self, db, prog="timed_null", timeout_s=DEFAULT_TIMEOUT_S, what="crash",
              expect_sig=signal.SIGSEGV, **env):
        """Crashes @prog (timed_null: prints the fault's time) under the
        library; checks its fate and the time bound (DESIGN §1), and waits
        for its helper."""
        env = self.env(db, LD_PRELOAD=self.build.lib, **env)
        if timeout_s != DEFAULT_TIMEOUT_S:
            env["BACKTRACE_TIMEOUT"] = "%g" % timeout_s
        r = run([self.build.prog(prog)], env, self.newdir("cwd"))
        fault = r.fault_mono()
        c = self.check
        c(fault is not None, "%s: no FAULT_MONO_NS on stderr:\n%s" % (what, r.err[-2000:]))
        if expect_sig is not None:
            c.eq(r.termsig, expect_sig, "%s: the signal the program died of (as without "
                 "btcrash); it %s; stderr:\n%s" % (what, r.describe(), r.err[-2500:]))
        if fault is not None:
            r.took = r.death_mono - fault
            c(r.took <= timeout_s + GRACE_S, "%s: died %.3f s after the fault; the bound is "
              "BACKTRACE_TIMEOUT + 0.5 s = %.1f s" % (what, r.took, timeout_s + GRACE_S))
            self.wait_helpers(db, fault + timeout_s, what)
        c(not r.lingering, "%s: its process group outlived it: %r" % (what, r.lingering))
        return r

    def wait_helpers(self, db, deadline_mono, what):
        """Waits for @db's helpers; one alive HELPER_LINGER_S past the
        crash's deadline is a failure (and is killed)."""
        while True:
            alive = helpers_of(db)
            if not alive:
                return
            if time.monotonic() > deadline_mono + HELPER_LINGER_S:
                self.check.fail("%s: helpers %r still running %.1f s after the deadline"
                                % (what, alive, HELPER_LINGER_S))
                for pid in alive:
                    try:
                        os.kill(pid, signal.SIGKILL)
                    except OSError:
                        pass
                return
            time.sleep(0.02)

    def cmd(self, args, db, timeout=RUN_TIMEOUT, **env):
        """`btcrash ARGS`, without the library."""
        return run([self.build.helper] + list(args), self.env(db, **env), self.newdir("cmd"),
                   timeout=timeout)

    def one_new_report(self, db, before, what):
        new = [u for u in reports(db) if u not in before]
        if not self.check.eq(len(new), 1, "%s: new reports in %s" % (what, db)):
            return None
        return reports(db)[new[0]]


@pytest.fixture
def btc(build, tmp_path, check):
    return Btc(build, tmp_path, check)
