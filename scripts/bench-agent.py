#!/usr/bin/env python3
"""Host side of the benchmark's counters (scripts/bench.sh).

Listens on a Unix socket that QEMU connects to as the chardev of the
guest's virtio-serial port org.vbridge.bench.  For each line the guest
sends ("begin CONFIG WORKLOAD" / "end CONFIG WORKLOAD",
bench/vbridge_fs_bench.c), it samples the context switches of the host
processes that serve the guest, appends one JSON line to OUT, and only
then answers "ok", so the sample brackets the guest's timed section.

A process's count is the sum of voluntary and nonvoluntary switches over
/proc/PID/task/*/status of it and all its descendants (vbridged forks
into its sandbox).  Threads that exit between two samples are missed:
QEMU's and virtiofsd's thread pools can be under-counted.  The channel
is served by QEMU, not by vbridged or virtiofsd, so the marks add
nothing to the backends' counts.

usage: bench-agent.py SOCKET OUT NAME=PID|NAME=@PIDFILE...
The QEMU process is found as the socket's peer (SO_PEERCRED).
"""
import json
import os
import socket
import struct
import sys
import time


def children():
    kids = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/stat") as f:
                ppid = int(f.read().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        kids.setdefault(ppid, []).append(int(d))
    return kids


def switches(pid):
    total = 0
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return 0
    for t in tasks:
        try:
            with open(f"/proc/{pid}/task/{t}/status") as f:
                for line in f:
                    if line.startswith(("voluntary_ctxt_switches",
                                        "nonvoluntary_ctxt_switches")):
                        total += int(line.split()[1])
        except (OSError, ValueError):
            pass
    return total


def tree_switches(root, kids):
    todo, total, threads = [root], 0, 0
    while todo:
        p = todo.pop()
        total += switches(p)
        try:
            threads += len(os.listdir(f"/proc/{p}/task"))
        except OSError:
            pass
        todo.extend(kids.get(p, []))
    return total, threads


def main():
    sock_path, out_path = sys.argv[1], sys.argv[2]
    roots = {}
    for a in sys.argv[3:]:
        name, val = a.split("=", 1)
        roots[name] = val
    srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    srv.bind(sock_path)
    srv.listen(1)
    conn, _ = srv.accept()
    cred = conn.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED,
                           struct.calcsize("3i"))
    roots["qemu"] = str(struct.unpack("3i", cred)[0])
    out = open(out_path, "a")
    buf = b""
    while True:
        data = conn.recv(4096)
        if not data:
            break
        buf += data
        while b"\n" in buf:
            line, buf = buf.split(b"\n", 1)
            words = line.decode(errors="replace").split()
            if len(words) != 3:
                conn.sendall(b"error\n")
                continue
            kids = children()
            sample = {"t": time.time(), "mark": words[0],
                      "config": words[1], "workload": words[2], "procs": {}}
            for name, val in roots.items():
                try:
                    if val.startswith("@"):
                        with open(val[1:]) as f:
                            val = f.read().strip()
                    pid = int(val)
                except (OSError, ValueError):
                    continue
                sw, th = tree_switches(pid, kids)
                sample["procs"][name] = {"ctxt": sw, "threads": th}
            out.write(json.dumps(sample) + "\n")
            out.flush()
            conn.sendall(b"ok\n")


if __name__ == "__main__":
    main()
