#!/usr/bin/env python3
"""Drive an interactive program on a pseudo-terminal, as a person would.

usage: pty-session.py TIMEOUT PROMPT_REGEX INPUT -- CMD [ARGS...]

Runs CMD with a new pty as its controlling terminal (stdin, stdout and
stderr), waits until what it printed matches PROMPT_REGEX and then
prints nothing for a second, types INPUT a key at a time followed by a
carriage return (the Enter key), then reads until CMD closes the
terminal.  Everything CMD printed goes to stdout; the exit status is
CMD's (128+N when signal N killed it, 124 on timeout: CMD is then
stopped).  Used by scripts/microvm-test.sh for "vbridge run" with no
command, which refuses to start without a terminal.
"""
import os
import re
import select
import signal
import sys
import time

QUIET = 1.0     # seconds of silence after the prompt before typing
KEY_GAP = 0.05  # seconds between keys


def stop(pid):
    # TERM first: CMD may have children to clean up (vbridge run stops
    # QEMU and vbridged on TERM, not on KILL).
    os.kill(pid, signal.SIGTERM)
    for _ in range(50):
        if os.waitpid(pid, os.WNOHANG)[0]:
            return
        time.sleep(0.1)
    os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0)


def main():
    if len(sys.argv) < 6 or sys.argv[4] != "--":
        sys.stderr.write(__doc__)
        return 2
    timeout = float(sys.argv[1])
    prompt = re.compile(sys.argv[2].encode())
    line = sys.argv[3].encode() + b"\r"
    cmd = sys.argv[5:]
    deadline = time.monotonic() + timeout

    pid, fd = os.forkpty()
    if pid == 0:
        try:
            os.execvp(cmd[0], cmd)
        finally:
            os._exit(127)

    out = b""
    prompted = typed = False
    last_output = time.monotonic()
    while True:
        now = time.monotonic()
        if now >= deadline:
            os.close(fd)
            sys.stderr.write("pty-session: timeout after %gs\n" % timeout)
            stop(pid)
            return 124
        # Type once the prompt is there and the program has gone quiet:
        # keys sent while the guest was still writing its prompt (busybox
        # follows it with a cursor-position query, ESC [ 6 n) were lost.
        if prompted and not typed and now - last_output >= QUIET:
            for key in line:
                os.write(fd, bytes([key]))
                time.sleep(KEY_GAP)
            typed = True
        ready, _, _ = select.select([fd], [], [], min(deadline - now, 0.1))
        if not ready:
            continue
        try:
            data = os.read(fd, 4096)
        except OSError:
            # EIO: every process holding the terminal has closed it.
            break
        if not data:
            break
        last_output = time.monotonic()
        out += data
        sys.stdout.buffer.write(data)
        sys.stdout.flush()
        if not prompted and prompt.search(out):
            prompted = True
    os.close(fd)
    _, status = os.waitpid(pid, 0)
    if os.WIFSIGNALED(status):
        return 128 + os.WTERMSIG(status)
    return os.WEXITSTATUS(status)


if __name__ == "__main__":
    sys.exit(main())
