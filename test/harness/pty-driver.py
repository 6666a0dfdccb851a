# Runs a command on a new pseudo-terminal and plays a script against it, for tests of terminal programs
# (test/harness/pty.ts). argv[1] is JSON: {"argv": [...], "env": {...}, "rows": R, "cols": C,
# "steps": [...]}. Steps, in order:
#   {"wait": REGEX}                     until the output so far matches
#   {"write": TEXT}                     type TEXT
#   {"writeUntil": TEXT, "until": RE}   type TEXT every 0.3 s until the output matches
#   {"resize": [ROWS, COLS]}            set the terminal's size (the kernel sends SIGWINCH)
# Each wait gives up after "timeout" seconds (default 20). Prints one JSON line: {"output", "exitCode"
# (or null), "signal" (or null), "failed" (the step that timed out, or null)}.
import json
import os
import pty
import re
import select
import signal
import struct
import sys
import time
import fcntl
import termios

spec = json.loads(sys.argv[1])
timeout = spec.get("timeout", 20)


def set_size(fd, rows, cols):
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))


pid, fd = pty.fork()
if pid == 0:
    set_size(0, spec["rows"], spec["cols"])
    os.execvpe(spec["argv"][0], spec["argv"], {**os.environ, **spec.get("env", {})})

out = b""
closed = False


def read_for(seconds):
    global out, closed
    end = time.time() + seconds
    while not closed:
        left = end - time.time()
        if left <= 0:
            return
        ready, _, _ = select.select([fd], [], [], left)
        if not ready:
            return
        try:
            data = os.read(fd, 65536)
        except OSError:
            data = b""
        if not data:
            closed = True
            return
        out += data


def matches(pattern):
    return re.search(pattern, out.decode("utf-8", "replace")) is not None


failed = None
for step in spec["steps"]:
    if "wait" in step:
        deadline = time.time() + timeout
        while not matches(step["wait"]) and not closed and time.time() < deadline:
            read_for(0.1)
        if not matches(step["wait"]):
            failed = step
            break
    elif "write" in step:
        os.write(fd, step["write"].encode())
    elif "writeUntil" in step:
        deadline = time.time() + timeout
        while not matches(step["until"]) and not closed and time.time() < deadline:
            os.write(fd, step["writeUntil"].encode())
            read_for(0.3)
        if not matches(step["until"]):
            failed = step
            break
    elif "resize" in step:
        set_size(fd, *step["resize"])

if failed is not None:
    os.kill(pid, signal.SIGKILL)
deadline = time.time() + timeout
while not closed and time.time() < deadline:
    read_for(0.2)
if not closed:
    os.kill(pid, signal.SIGKILL)
_, status = os.waitpid(pid, 0)
print(
    json.dumps(
        {
            "output": out.decode("utf-8", "replace"),
            "exitCode": os.WEXITSTATUS(status) if os.WIFEXITED(status) else None,
            "signal": os.WTERMSIG(status) if os.WIFSIGNALED(status) else None,
            "failed": failed,
        }
    )
)
