#!/usr/bin/env python3
"""Every shell command of the README, run as a user would run it.

Each ```sh block of README.md is one session, run in a fresh scratch folder
that holds the clone's folders and, as ./build, the build under test: its
lines run in order in one bash (variables carry from line to line); a line
that starts a daemon (chd, chvenue), or that the README says to run "in
another terminal", runs in the background until the block ends, and chd is
waited for until it listens. Each line must exit 0, and a few lines' output
is checked (CHECKS). A line the test does not run is listed in SKIP with the
reason; a line neither run nor listed fails the test, so a command added to
the README is either run here or said to be skipped.

Usage: test_readme.py SOURCE_DIR BUILD_DIR   (run by ctest, which gives it the
default ports 7450 and 7451 to itself)
"""
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

SRC, BUILD = (os.path.abspath(p) for p in sys.argv[1:3])

# Lines not run, by their start: why.
SKIP = {
    "bash scripts/quickstart demo": "the set-up command; CI runs `quickstart test`, and the demo's "
                                    "flow is run by test_chd's Demo test",
    "bash scripts/quickstart test": "the set-up command CI runs (.ci/run)",
    "bash scripts/quickstart bench": "all benchmarks, several minutes (its own command)",
    "./build/bench/bench_restart": "a benchmark of about 4 minutes (its own command)",
    "./build/clients/chsim --config my.json": "a template: my.json is the reader's file",
}

# chsim runs 5 seeds by default (minutes): here one, without plots.
SHORTEN = ("./build/clients/chsim", " --seeds 1 --no-plots --quiet")

# Output a line must print (a regular expression), by the line's start.
CHECKS = {
    "./build/clients/chctl hello": r"software +\d+\.\d+\.\d+",
    "./build/clients/chctl positions alice": r"^BTC-\w+-100000-C +2 ",
    "./build/clients/chctl --key-file var/readonly.key metrics":
        r'ch_fills_total\{source="pool"\} [1-9]',
    "printf 'type,S,K,T,r,q,sigma": r"^call,100,100,1,[0-9.]+,0,[0-9.]+,10\.45058",
    "nngcat": r'"ok":true',
}

BACKGROUND = ("./build/engine/chd", "./build/clients/chvenue")


def blocks(text):
    """The ```sh blocks: lists of (line number, command)."""
    out, cur, start = [], None, 0
    for n, line in enumerate(text.splitlines(), 1):
        if cur is None and line.strip() == "```sh":
            cur, start = [], n
        elif cur is not None and line.strip() == "```":
            out.append(cur)
            cur = None
        elif cur is not None and line.strip():
            cur.append((n, line))
    return out


def command(line):
    """The command without its trailing comment (# after two spaces) or &."""
    cmd = re.split(r"\s{2,}#", line)[0].rstrip()
    return cmd[:-1].rstrip() if cmd.endswith("&") else cmd


def listening(port):
    with socket.socket() as s:
        s.settimeout(0.2)
        return s.connect_ex(("127.0.0.1", port)) == 0


class Session:
    def __init__(self, root):
        self.root, self.bg = root, []
        self.vars = {}

    def run_bg(self, cmd, n):
        log = open(os.path.join(self.root, f"bg-{n}.log"), "w")
        p = subprocess.Popen(["bash", "-c", "exec " + cmd], cwd=self.root, stdout=log,
                             stderr=subprocess.STDOUT, start_new_session=True)
        self.bg.append((p, log, cmd))
        if cmd.startswith("./build/engine/chd"):
            for _ in range(100):
                if "event=listening" in open(log.name).read() or p.poll() is not None:
                    break
                time.sleep(0.1)
            if p.poll() is not None or "event=listening" not in open(log.name).read():
                raise AssertionError(f"README line {n}: chd did not start: "
                                     f"{open(log.name).read()[-2000:]}")
        else:
            time.sleep(0.5)
            if p.poll() not in (None, 0):
                raise AssertionError(f"README line {n}: {cmd}: exited {p.returncode}")

    def run(self, cmd, n):
        """One line in bash, with the variables set by earlier lines."""
        pre = "".join(f"{k}={v!r}\n" for k, v in self.vars.items())
        m = re.fullmatch(r"(\w+)=(\$\(.*\))", cmd)
        script = pre + (f"{m.group(1)}={m.group(2)}\nprintf %s \"${m.group(1)}\"" if m else cmd)
        r = subprocess.run(["bash", "-c", script], cwd=self.root,
                           capture_output=True, text=True, timeout=600)
        if r.returncode != 0:
            raise AssertionError(f"README line {n}: {cmd}\nexit {r.returncode}\n"
                                 f"{r.stdout[-3000:]}{r.stderr[-3000:]}")
        if m:
            if not r.stdout:
                raise AssertionError(f"README line {n}: {cmd}: empty")
            self.vars[m.group(1)] = r.stdout
        return r.stdout

    def close(self):
        for p, log, _ in self.bg:
            if p.poll() is None:
                os.killpg(p.pid, signal.SIGTERM)
                try:
                    p.wait(10)
                except subprocess.TimeoutExpired:
                    os.killpg(p.pid, signal.SIGKILL)
                    p.wait()
            log.close()
        self.bg = []

    def output_of(self, start):
        for p, log, cmd in self.bg:
            if cmd.startswith(start):
                log.flush()
                return open(log.name).read()
        return ""


def scratch():
    """A folder with the clone's folders and ./build -> the build under test."""
    root = tempfile.mkdtemp(prefix="ch-readme-")
    for name in os.listdir(SRC):
        if name not in ("build",) and not name.startswith("build"):
            os.symlink(os.path.join(SRC, name), os.path.join(root, name))
    os.symlink(BUILD, os.path.join(root, "build"))
    return root


def main():
    with open(os.path.join(SRC, "README.md")) as f:
        text = f.read()
    for port in (7450, 7451):
        if listening(port):
            print(f"test_readme: port {port} is in use; the README's commands need it")
            return 1
    ran = skipped = 0
    for block in blocks(text):
        root = scratch()
        s = Session(root)
        try:
            for n, line in block:
                cmd = command(line)
                why = next((w for k, w in SKIP.items() if cmd.startswith(k)), None)
                if why is not None:
                    print(f"  skip  {n}: {cmd[:70]}  ({why})")
                    skipped += 1
                    continue
                if cmd.startswith(SHORTEN[0]):
                    cmd += SHORTEN[1]
                another = "another terminal" in line
                if cmd.startswith(BACKGROUND) or another:
                    s.run_bg(cmd, n)
                    out = None
                else:
                    out = s.run(cmd, n)
                for k, pattern in CHECKS.items():
                    if out is not None and cmd.startswith(k) and not re.search(pattern, out, re.M):
                        raise AssertionError(f"README line {n}: {cmd}: no /{pattern}/ in:\n{out}")
                print(f"  ran   {n}: {cmd[:70]}")
                ran += 1
            # an event watcher started in this block saw the block's fills
            if any(c.startswith("./build/clients/chctl watch fill.") for _, _, c in s.bg):
                time.sleep(0.5)
                seen = s.output_of("./build/clients/chctl watch fill.")
                if not re.search(r"^fill\.\w+ \{", seen, re.M):
                    raise AssertionError(f"chctl watch fill. printed no fill: {seen!r}")
        finally:
            s.close()
            shutil.rmtree(root, ignore_errors=True)
    print(f"test_readme: {ran} README commands ran, {skipped} skipped (reasons above)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
