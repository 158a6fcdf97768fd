#!/usr/bin/env python3
"""Drive an interactive program on a pseudo-terminal, as a person would.

usage: pty-session.py TIMEOUT PROMPT_REGEX INPUT -- CMD [ARGS...]

Runs CMD with a new pty as its controlling terminal (stdin, stdout and
stderr), waits until what it printed matches PROMPT_REGEX, types INPUT
followed by a carriage return (the Enter key), then reads until CMD
closes the terminal.  Everything CMD printed goes to stdout; the exit
status is CMD's (128+N when signal N killed it, 124 on timeout: CMD is
then killed).  Used by scripts/microvm-test.sh for "vbridge run" with
no command, which refuses to start without a terminal.
"""
import os
import re
import select
import signal
import sys
import time


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
    typed = False
    timed_out = False
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            timed_out = True
            break
        ready, _, _ = select.select([fd], [], [], left)
        if not ready:
            continue
        try:
            data = os.read(fd, 4096)
        except OSError:
            # EIO: every process holding the terminal has closed it.
            break
        if not data:
            break
        out += data
        sys.stdout.buffer.write(data)
        sys.stdout.flush()
        # Type only once the prompt is there: a serial console drops
        # what arrives before the shell reads it.
        if not typed and prompt.search(out):
            os.write(fd, line)
            typed = True
    os.close(fd)
    if timed_out:
        sys.stderr.write("pty-session: timeout after %gs\n" % timeout)
        # TERM first: CMD may have children to clean up (vbridge run
        # stops QEMU and vbridged on TERM, not on KILL).
        os.kill(pid, signal.SIGTERM)
        for _ in range(50):
            if os.waitpid(pid, os.WNOHANG)[0]:
                return 124
            time.sleep(0.1)
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        return 124
    _, status = os.waitpid(pid, 0)
    if os.WIFSIGNALED(status):
        return 128 + os.WTERMSIG(status)
    return os.WEXITSTATUS(status)


if __name__ == "__main__":
    sys.exit(main())
