#!/usr/bin/env python3
# Coherence latency, host side (scripts/host-agent.sh chase PATH N): N
# times, write a new 8-digit number into PATH and time until the guest,
# which polls PATH through its cache, writes the same number into
# PATH.ack.  Prints "N P50 P90 P99 MAX" (round trips in ms); exits 1 if
# the guest missed one for 2 s.
import os
import random
import sys
import time

path, n = sys.argv[1], int(sys.argv[2])
ack = path + ".ack"
rtts = []
for i in range(1, n + 1):
    want = b"%08d" % i
    # Not in step with the guest's polling.
    time.sleep(random.uniform(0.005, 0.02))
    t0 = time.monotonic()
    fd = os.open(path, os.O_WRONLY)
    os.pwrite(fd, want, 0)
    os.close(fd)
    while True:
        try:
            with open(ack, "rb") as f:
                if f.read(8) == want:
                    break
        except FileNotFoundError:
            pass
        if time.monotonic() - t0 > 2:
            sys.exit(1)
        time.sleep(0.0001)
    rtts.append((time.monotonic() - t0) * 1000)
rtts.sort()


def pct(p):
    return rtts[min(len(rtts) - 1, int(len(rtts) * p / 100))]


print("%d %.2f %.2f %.2f %.2f" % (n, pct(50), pct(90), pct(99), rtts[-1]))
