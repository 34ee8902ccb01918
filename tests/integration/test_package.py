"""The Debian package (issue 13, points 6 and 7): `cpack -G DEB` from the
build tree, its file list and control fields, its systemd units, and a
crash under the library it holds, extracted to a scratch directory.

One test on purpose: cpack first runs the build tree's `preinstall` target
(a make of everything, a no-op on a built tree), and two such makes of one
tree at once must not happen; the package is written under tmp_path, so
the build tree gets no package of its own and parallel runs do not meet.
"""

import os
import re
import shlex
import shutil
import signal
import subprocess

import pytest

from conftest import base_env, reports, run

pytestmark = pytest.mark.package

CPACK_TIMEOUT = 240


def cache_value(build, name):
    """@name's value in the build tree's CMakeCache.txt, or None."""
    with open(os.path.join(build.root, "CMakeCache.txt")) as f:
        for line in f:
            m = re.match(r"%s:[A-Z]+=(.*)$" % re.escape(name), line.rstrip("\n"))
            if m:
                return m.group(1)
    return None


def project_version(build):
    """The version of the project() call in the top CMakeLists.txt."""
    with open(os.path.join(build.source, "CMakeLists.txt")) as f:
        m = re.search(r"project\(\s*btcrash\s+VERSION\s+([0-9.]+)", f.read())
    return m.group(1) if m else None


def packaged_dir(build, var):
    """Where the package puts GNUInstallDirs' @var (CMAKE_INSTALL_LIBDIR...):
    its prefix is /usr, whatever the build's CMAKE_INSTALL_PREFIX."""
    d = cache_value(build, var)
    return os.path.normpath(d if os.path.isabs(d) else os.path.join("/usr", d))


def unit_settings(path):
    """{(section, key): [values]} of a unit file."""
    out, section = {}, None
    with open(path) as f:
        for line in f:
            line = line.strip()
            if not line or line[0] in "#;":
                continue
            if line.startswith("["):
                section = line.strip("[]")
                continue
            key, _, value = line.partition("=")
            out.setdefault((section, key.strip()), []).append(value.strip())
    return out


def one(check, settings, section, key, what):
    v = settings.get((section, key), [])
    check.eq(len(v), 1, "%s: [%s] %s= lines" % (what, section, key))
    return v[0] if v else None


def sh(argv, timeout=60, **kw):
    return subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          timeout=timeout, **kw)


def check_units(check, build, tmp_path, root, names, bindir):
    """The four units: the paths they name, the flush semantics they rely
    on, and systemd-analyze verify on each kind."""
    helper = os.path.join(bindir, "btcrash")
    env_files = {"system": "-/etc/btcrash/environment",
                 "user": "-%h/.config/btcrash/environment"}
    verify_dir = tmp_path / "verify"
    for kind in ("system", "user"):
        unit_dir = "/usr/lib/systemd/%s" % kind
        service = os.path.join(root + unit_dir, "btcrash-flush.service")
        timer = os.path.join(root + unit_dir, "btcrash-flush.timer")
        if not check(os.path.exists(service) and os.path.exists(timer),
                     "%s units missing from %s" % (kind, unit_dir)):
            continue
        what = "%s service" % kind
        s = unit_settings(service)
        check.eq(one(check, s, "Service", "Type", what), "oneshot", what + ": Type")
        check.eq(one(check, s, "Service", "EnvironmentFile", what), env_files[kind],
                 what + ": EnvironmentFile")
        start = one(check, s, "Service", "ExecStart", what)
        if start:
            argv = shlex.split(start)
            check.eq(argv, [helper, "flush"], what + ": ExecStart")
            check("." + argv[0] in names, "%s: ExecStart names %s, which the package does "
                  "not hold" % (what, argv[0]))
        # `btcrash flush` exits 1 without an endpoint; the unit must skip
        # that run, not fail. Run its condition the way systemd would: "$$"
        # is a literal "$" and the variables come from the environment.
        cond = one(check, s, "Service", "ExecCondition", what)
        if cond:
            argv = shlex.split(cond.replace("$$", "$"))
            env = base_env()
            for endpoint, ok in ((None, False), ("", False), ("http://127.0.0.1:9/", True)):
                env.pop("BACKTRACE_ENDPOINT", None)
                if endpoint is not None:
                    env["BACKTRACE_ENDPOINT"] = endpoint
                r = sh(argv, env=env)
                check.eq(r.returncode == 0, ok, "%s: ExecCondition %r with BACKTRACE_ENDPOINT=%r "
                         "(exit %d)" % (what, cond, endpoint, r.returncode))
                check(ok or 1 <= r.returncode <= 254, "%s: ExecCondition exits %d without an "
                      "endpoint; 1 to 254 skip the unit, others fail it" % (what, r.returncode))
        t = unit_settings(timer)
        what = "%s timer" % kind
        check.eq(one(check, t, "Timer", "Persistent", what), "true", what + ": Persistent")
        check(one(check, t, "Timer", "RandomizedDelaySec", what), what + ": no RandomizedDelaySec")
        check(one(check, t, "Timer", "OnCalendar", what), what + ": no OnCalendar")
        check.eq(one(check, t, "Install", "WantedBy", what), "timers.target", what + ": WantedBy")

        # systemd-analyze verify checks that ExecStart's file is there: a
        # copy of the units naming the extracted btcrash, everything else as
        # packaged. (--root would look for /bin/sh and the targets in the
        # extracted tree too.) It warns about unknown keys and bad values
        # but still exits 0, so any output is a failure.
        tool = shutil.which("systemd-analyze")
        if not check(tool, "systemd-analyze not found: install the systemd package (CI: "
                     ".ci/packages); the units were not verified"):
            continue
        d = verify_dir / kind
        d.mkdir(parents=True)
        copies = []
        for src in (service, timer):
            with open(src) as f:
                text = f.read()
            dst = str(d / os.path.basename(src))
            with open(dst, "w") as f:
                f.write(text.replace("=%s " % helper, "=%s " % (root + helper)))
            copies.append(dst)
        env = base_env()
        argv = [tool, "verify"] + copies
        if kind == "user":
            # A user manager's paths need a runtime directory.
            rt = tmp_path / "runtime"
            rt.mkdir(mode=0o700, exist_ok=True)
            env["XDG_RUNTIME_DIR"] = str(rt)
            argv.insert(1, "--user")
        r = sh(argv, env=env)
        out = (r.stdout + r.stderr).decode("utf-8", "replace").strip()
        check(r.returncode == 0 and not out, "%s: %s exited %d:\n%s" % (
            kind, " ".join(argv), r.returncode, out))


def test_deb(build, check, tmp_path):
    """cpack -G DEB: the package holds the library and its soname links, the
    helper, the API module, the header, the .pc file, the four units and
    the README; its control fields name it, its version and libcurl4; its
    units verify and rely on flush as it is; and extracted anywhere, its
    library reports a crash with its own helper."""
    cpack = shutil.which("cpack")
    if not check(cpack, "cpack not found (package cmake)"):
        return
    out = tmp_path / "cpack"
    r = sh([cpack, "-G", "DEB", "-B", str(out), "--config",
            os.path.join(build.root, "CPackConfig.cmake")], timeout=CPACK_TIMEOUT, cwd=build.root)
    if not check(r.returncode == 0, "cpack failed (%d):\n%s" % (
            r.returncode, (r.stdout + r.stderr).decode("utf-8", "replace")[-4000:])):
        return
    debs = [n for n in os.listdir(out) if n.endswith(".deb")]
    if not check.eq(len(debs), 1, "packages written to %s" % out):
        return
    deb = str(out / debs[0])
    version = project_version(build)
    check.eq(debs[0], "btcrash_%s_amd64.deb" % version, "the package's file name")

    # The control fields.
    fields = {}
    for f in ("Package", "Version", "Architecture", "Maintainer", "Depends", "Description"):
        fields[f] = sh(["dpkg-deb", "-f", deb, f]).stdout.decode().strip()
    check.eq(fields["Package"], "btcrash", "Package")
    check.eq(fields["Version"], version, "Version (the project()'s)")
    check.eq(fields["Architecture"], "amd64", "Architecture")
    check(fields["Maintainer"], "no Maintainer")
    check(fields["Description"].startswith("crash reporter"), "Description: %r"
          % fields["Description"])
    depends = [d.strip().split()[0] for d in fields["Depends"].split(",") if d.strip()]
    # libcurl4 by hand (dlopened); the rest from dpkg-shlibdeps.
    for dep in ("libcurl4", "libc6", "libdw1", "libelf1", "libjansson4"):
        check(dep in depends, "Depends: %r lacks %s" % (fields["Depends"], dep))

    # The file list.
    listing = sh(["dpkg-deb", "-c", deb]).stdout.decode()
    names = set()
    for line in listing.splitlines():
        # drwxr-xr-x root/root 0 2024-01-01 00:00 ./usr/lib/x -> y
        name = line.split(None, 5)[5].split(" -> ")[0]
        names.add(name.rstrip("/") if name != "./" else name)
    libdir = packaged_dir(build, "CMAKE_INSTALL_LIBDIR")
    bindir = packaged_dir(build, "CMAKE_INSTALL_BINDIR")
    so = "libbtcrash.so"
    wanted = [libdir + "/" + n for n in (so, so + ".0", so + ".%s" % version, "libbtcrash-api.so",
                                         "pkgconfig/btcrash.pc")]
    wanted += [bindir + "/btcrash", "/usr/include/btcrash.h", "/usr/share/doc/btcrash/README.md"]
    wanted += ["/usr/lib/systemd/%s/btcrash-flush.%s" % (k, u)
               for k in ("system", "user") for u in ("service", "timer")]
    for path in wanted:
        check("." + path in names, "the package lacks %s; it holds:\n%s" % (path, listing))
    # Under /usr only, and nothing of the build tree's or the tests'.
    for name in names:
        check(name in ("./", "./usr") or name.startswith("./usr/"), "outside /usr: %s" % name)
        check(not re.search(r"test|demo|fuzz|\.a$", os.path.basename(name)),
              "a build or test file in the package: %s" % name)

    root = str(tmp_path / "root")
    r = sh(["dpkg-deb", "-x", deb, root])
    if not check(r.returncode == 0, "dpkg-deb -x: %s" % r.stderr.decode()):
        return
    lib = root + libdir + "/" + so
    helper = root + bindir + "/btcrash"

    # The extracted command runs.
    r = sh([helper, "--version"], env=base_env())
    check.eq(r.stdout.decode().strip(), "btcrash %s" % version, "btcrash --version")
    # What the units rely on: no endpoint is exit 1 (hence ExecCondition),
    # an endpoint with nothing to send is 0 (the timer's usual run).
    nodb = str(tmp_path / "no-db")
    r = sh([helper, "flush"], env=dict(base_env(), BACKTRACE_DATABASE_PATH=nodb))
    check.eq(r.returncode, 1, "flush without an endpoint: exit status")
    r = sh([helper, "flush"], env=dict(base_env(), BACKTRACE_DATABASE_PATH=nodb,
                                       BACKTRACE_ENDPOINT="http://127.0.0.1:9/"))
    check.eq(r.returncode, 0, "flush with nothing to send: exit status (%s)"
             % r.stderr.decode().strip())

    # A crash under the extracted library: one report, from the extracted
    # helper. The library looks for its helper only relative to its own
    # directory (preload/helper_path.c: <libdir>/../bin/btcrash, the
    # multiarch ../../bin/btcrash, <libdir>/btcrash), never on PATH or in
    # the build tree; so no BACKTRACE_HELPER_PATH is set, and the same
    # crash under a copy of the tree without its btcrash stores nothing
    # and names the extracted path it tried.
    db = str(tmp_path / "db")
    env = dict(base_env(), BACKTRACE_DATABASE_PATH=db, LD_PRELOAD=lib)
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    r = run([build.prog("null_write")], env, str(cwd))
    check.eq(r.termsig, signal.SIGSEGV, "null_write under the extracted library: it %s; "
             "stderr:\n%s" % (r.describe(), r.err[-2500:]))
    reps = list(reports(db).values())
    if check.eq(len(reps), 1, "reports stored in %s; stderr:\n%s" % (db, r.err[-2500:])):
        rep = reps[0].report
        top = rep["threads"][rep["mainThread"]]["stack"][0]
        check.eq(top.get("funcName"), "level3", "the crash's top frame")
        check(rep.get("attributes", {}).get("application") == "null_write",
              "application: %r" % rep.get("attributes", {}).get("application"))

    bare = str(tmp_path / "bare")
    shutil.copytree(root, bare, symlinks=True)
    os.unlink(bare + bindir + "/btcrash")
    db2 = str(tmp_path / "db-bare")
    env = dict(base_env(), BACKTRACE_DATABASE_PATH=db2, LD_PRELOAD=bare + libdir + "/" + so)
    r = run([build.prog("null_write")], env, str(cwd))
    check.eq(r.termsig, signal.SIGSEGV, "null_write without the packaged helper: it %s"
             % r.describe())
    check.eq(len(reports(db2)), 0, "reports stored without the packaged helper (another "
             "btcrash was found)")
    tried = os.path.normpath(bare + libdir + "/../bin/btcrash")
    check(re.search(r"no helper could be started; tried (\S+)", r.err) and
          os.path.normpath(re.search(r"tried (\S+)", r.err).group(1)) == tried,
          "without the packaged helper, stderr should name %s:\n%s" % (tried, r.err[-2000:]))

    # The C API from the package: the unlinked demo under the extracted
    # library loads the extracted libbtcrash-api.so and sends two reports
    # (local mode: stored).
    demo = os.path.join(build.root, "bin", "api-demo-weak")
    db3 = str(tmp_path / "db-api")
    r = run([demo], dict(base_env(), BACKTRACE_DATABASE_PATH=db3, LD_PRELOAD=lib), str(cwd))
    check.eq(r.exitcode, 0, "api-demo-weak under the extracted library: it %s; output:\n%s%s"
             % (r.describe(), r.out[-1500:], r.err[-1500:]))
    check.eq(len(reports(db3)), 2, "reports stored by api-demo-weak")

    # The header and the .pc file: a program built with `pkg-config --cflags
    # --libs btcrash` against the extracted tree needs libbtcrash.so.0.
    pc_env = dict(base_env(), PKG_CONFIG_LIBDIR=root + libdir + "/pkgconfig")
    r = sh(["pkg-config", "--cflags", "--libs", "btcrash"], env=pc_env)
    flags = r.stdout.decode().split()
    # The .pc file finds its prefix from its own place (${pcfiledir}/../..).
    norm = [f[:2] + os.path.normpath(f[2:]) if f[:2] in ("-I", "-L") else f for f in flags]
    check.eq(sorted(norm), sorted(["-I" + root + "/usr/include", "-L" + root + libdir,
                                   "-lbtcrash"]), "pkg-config --cflags --libs btcrash")
    src = tmp_path / "version.c"
    src.write_text('#include <btcrash.h>\n#include <stdio.h>\n'
                   'int main(void) { puts(btcrash_version()); return 0; }\n')
    exe = str(tmp_path / "version")
    r = sh(["cc", str(src), "-o", exe] + flags)
    if check(r.returncode == 0, "cc with pkg-config's flags: %s" % r.stderr.decode()):
        needed = sh(["readelf", "-d", exe]).stdout.decode()
        check("[libbtcrash.so.0]" in needed, "the program does not need libbtcrash.so.0:\n%s"
              % needed)
        r = sh([exe], env=dict(base_env(), LD_LIBRARY_PATH=root + libdir))
        check.eq(r.stdout.decode().strip(), version, "btcrash_version() of the packaged library")

    check_units(check, build, tmp_path, root, names, bindir)
