#!/usr/bin/env python3
"""The benchmark's report (scripts/bench.sh): DIR/bench.json, bench.md and
gnuplot charts from the raw logs in DIR (guest.log, host.log,
marks.jsonl, env.json).  Nothing here is a number of its own: every
figure comes from those logs.

usage: bench-report.py [--check] DIR
--check (quick mode): exit 1 unless every configuration produced every
number (and nothing failed).
"""
import json
import os
import re
import subprocess
import sys

METADATA = ["create", "stat", "readdir", "read4k", "unlink", "find",
            "git-status", "git-diff", "untar"]
DATA = ["seq-write-cold", "seq-write-warm", "seq-read-cold",
        "seq-read-warm", "mmap", "randread-qd1", "randread-qd16",
        "randwrite-qd1", "randwrite-qd16"]
WORKLOADS = METADATA + DATA
FIO = [w for w in DATA if w.startswith("rand")]
SEQ = [w for w in DATA if w.startswith("seq-")]
UNITS = {w: "MB/s" for w in SEQ}
UNITS.update({w: "IOPS" for w in FIO})
UNITS.update({"find": "entries/s", "git-status": "files/s",
              "git-diff": "files/s", "untar": "entries/s",
              "readdir": "entries/s", "mmap": "page reads/s"})
WHAT = {
    "create": "create + 4 KiB write + close",
    "stat": "stat() by name",
    "readdir": "readdir() of the directory",
    "read4k": "open + read 4 KiB + close, cold",
    "unlink": "unlink()",
    "find": "find -ls of the headers tree, cold",
    "git-status": "git status, index refreshed",
    "git-diff": "git diff",
    "untar": "tar -xf of the tree",
    "seq-write-cold": "new file, 1 MiB writes + fsync",
    "seq-write-warm": "overwrite in place + fsync",
    "seq-read-cold": "after dropping caches",
    "seq-read-warm": "read again",
    "mmap": "random 4 KiB page reads, cold",
    "randread-qd1": "fio 4 KiB, QD1",
    "randread-qd16": "fio 4 KiB, QD16",
    "randwrite-qd1": "fio 4 KiB, QD1",
    "randwrite-qd16": "fio 4 KiB, QD16",
}
BACKEND = {"ubridge": "vbridged", "virtiofs-none": "virtiofsd-none",
           "virtiofs-auto": "virtiofsd-auto", "9p-none": "qemu",
           "9p-loose": "qemu"}


def backend_of(config):
    if config.startswith("vb-"):
        return "vbridged"
    return BACKEND.get(config)


def kv(words):
    out = {}
    for w in words:
        if "=" in w:
            k, v = w.split("=", 1)
            out[k] = v
    return out


def parse_log(path, res, fails, info, display, ping):
    if not os.path.exists(path):
        return
    with open(path, errors="replace") as f:
        for line in f:
            line = line.replace("\r", "").rstrip("\n")
            if line.startswith("BENCH "):
                d = kv(line.split()[1:])
                r = res.setdefault(d["config"], {}).setdefault(d["workload"], {})
                r.update({"ops": int(d["ops"]), "bytes": int(d["bytes"]),
                          "secs": float(d["secs"]), "guest_ctxt": int(d["ctxt"])})
            elif line.startswith("BENCH-FIO "):
                head, js = line.split(" json=", 1)
                d = kv(head.split()[1:])
                try:
                    jobs = json.loads(js)["jobs"]
                except (ValueError, KeyError):
                    fails.append({"config": d["config"], "workload": d["workload"],
                                  "error": "fio JSON unreadable"})
                    continue
                for job in jobs:
                    rw = job["read"] if job["read"]["total_ios"] else job["write"]
                    pct = rw.get("clat_ns", {}).get("percentile", {})
                    name = job["jobname"] if d["workload"] == "fio-all" else d["workload"]
                    r = res.setdefault(d["config"], {}).setdefault(name, {})
                    r["fio"] = {"iops": rw["iops"], "bw_bytes": rw["bw_bytes"],
                                "total_ios": rw["total_ios"],
                                "runtime_ms": rw["runtime"],
                                "clat_p50_us": pct.get("50.000000", 0) / 1e3,
                                "clat_p99_us": pct.get("99.000000", 0) / 1e3,
                                "usr_cpu": job.get("usr_cpu"),
                                "sys_cpu": job.get("sys_cpu"),
                                "fio_ctx": job.get("ctx"),
                                "shared_run": d["workload"] == "fio-all"}
            elif line.startswith("BENCH-FAIL "):
                head, _, err = line.partition(" error=")
                d = kv(head.split()[1:])
                d["error"] = err
                fails.append(d)
            elif line.startswith("BENCH-INFO "):
                d = kv(line.split()[1:])
                info.setdefault(d.pop("config"), {}).update(d)
            elif line.startswith("BENCH-ENV "):
                info.setdefault("guest", {}).update(kv(line.split()[1:]))
            elif line.startswith("display="):
                d = kv(line.split())
                ph = display.setdefault(d.pop("display"), {}).setdefault(d.pop("phase"), {})
                ph.update({k: float(v) for k, v in d.items()})
            elif line.startswith("latency us: "):
                m = re.findall(r"(min|median|p99|max|mean) ([0-9.]+)", line)
                ping.update({k + "_us": float(v) for k, v in m})
            elif line.startswith("throughput: ") and "requests/s" in line:
                ping["requests_per_s"] = float(line.split()[1])


def add_marks(path, res):
    """Host context switches over each begin/end pair."""
    if not os.path.exists(path):
        return
    begins = {}
    with open(path) as f:
        for line in f:
            m = json.loads(line)
            key = (m["config"], m["workload"])
            if m["mark"] == "begin":
                begins[key] = m
            elif m["mark"] == "end" and key in begins:
                b = begins.pop(key)
                host = {}
                for name, p in m["procs"].items():
                    if name in b["procs"]:
                        host[name] = p["ctxt"] - b["procs"][name]["ctxt"]
                r = res.setdefault(key[0], {}).setdefault(key[1], {})
                r["host_ctxt"] = host
                r["host_secs"] = m["t"] - b["t"]


def derive(config, w, r):
    """value (higher is better), ops for the per-operation counts."""
    r["unit"] = UNITS.get(w, "ops/s")
    if "fio" in r:
        r["value"] = r["fio"]["iops"]
    if "secs" not in r:
        return
    ops = r["ops"]
    if "fio" in r:
        ops = r["fio"]["total_ios"]
    elif w in SEQ:
        r["value"] = r["bytes"] / r["secs"] / 1e6 if r["secs"] > 0 else None
    else:
        r["value"] = ops / r["secs"] if r["secs"] > 0 else None
    r["per_op_ops"] = ops
    if ops > 0:
        r["guest_ctxt_per_op"] = r["guest_ctxt"] / ops
        be = backend_of(config)
        hc = r.get("host_ctxt", {})
        if be and be in hc:
            r["backend_ctxt_per_op"] = hc[be] / ops
        if "qemu" in hc:
            r["qemu_ctxt_per_op"] = hc["qemu"] / ops


def fmt(v):
    if v is None:
        return "-"
    if v >= 100:
        return f"{v:,.0f}"
    if v >= 10:
        return f"{v:.1f}"
    return f"{v:.2f}"


def ratio(a, b):
    if a is None or b is None or b == 0:
        return None
    return a / b


def val(res, c, w):
    return res.get(c, {}).get(w, {}).get("value")


def ctx_total(res, c, w):
    r = res.get(c, {}).get(w, {})
    if "guest_ctxt_per_op" not in r:
        return None
    return r["guest_ctxt_per_op"] + r.get("backend_ctxt_per_op", 0)


COLOURS = {"vb-none": "#08306b", "vb-auto": "#2171b5", "vb-auto-wb": "#6baed6",
           "vb-always": "#006d2c", "vb-always-wb": "#74c476",
           "ubridge": "#fd8d3c", "virtiofs-none": "#54278f",
           "virtiofs-auto": "#9e9ac8", "9p-none": "#8c6d31",
           "9p-loose": "#e7ba52", "tmpfs": "#bdbdbd", "host": "#252525"}


def gnuplot(out, name, title, ylabel, configs, rows, logscale=True):
    dat = os.path.join(out, name + ".dat")
    with open(dat, "w") as f:
        # No header line: the titles are in the plot command.
        for w, vals in rows:
            f.write(w + " " + " ".join("?" if v is None or v <= 0 else f"{v:.6g}"
                                       for v in vals) + "\n")
    gp = f"""set terminal pngcairo size 1600,640 font ",10"
set output "{os.path.join(out, name + '.png')}"
set title "{title}"
set ylabel "{ylabel}"
set datafile missing "?"
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.9 border -1
set boxwidth 0.9
set xtics rotate by -30 nomirror
set key outside right top vertical
set grid ytics
{"set logscale y" if logscale else ""}
plot """ + ", ".join(
        f'"{dat}" using {i + 2}' + (":xtic(1)" if i == 0 else "")
        + f' title "{c}" lc rgb "{COLOURS.get(c, "#000000")}"'
        for i, c in enumerate(configs)) + "\n"
    with open(os.path.join(out, name + ".gp"), "w") as f:
        f.write(gp)
    try:
        subprocess.run(["gnuplot", os.path.join(out, name + ".gp")], check=True)
    except (OSError, subprocess.CalledProcessError) as e:
        print(f"bench-report: gnuplot failed for {name}: {e}", file=sys.stderr)


def main():
    args = sys.argv[1:]
    check = "--check" in args
    out = [a for a in args if a != "--check"][0]
    env = {}
    if os.path.exists(os.path.join(out, "env.json")):
        env = json.load(open(os.path.join(out, "env.json")))
    res, fails, info, display, ping = {}, [], {}, {}, {}
    parse_log(os.path.join(out, "guest.log"), res, fails, info, display, ping)
    parse_log(os.path.join(out, "host.log"), res, fails, info, display, ping)
    add_marks(os.path.join(out, "marks.jsonl"), res)
    configs = env.get("configs", sorted(k for k in res if k != "host")) + ["host"]
    for c in res:
        for w, r in res[c].items():
            derive(c, w, r)
    if "guest" in info:
        env["guest_kernel"] = info["guest"].get("guest_kernel")
        env["guest_vcpus"] = info["guest"].get("vcpus")

    missing = [(c, w) for c in configs for w in WORKLOADS
               if val(res, c, w) is None]
    json.dump({"env": env, "results": res, "failures": fails,
               "missing": [{"config": c, "workload": w} for c, w in missing],
               "info": info, "display": display, "ping": ping,
               "workload_groups": {"metadata": METADATA, "data": DATA}},
              open(os.path.join(out, "bench.json"), "w"), indent=1)

    md = []
    sz = env.get("sizes", {})
    ct = env.get("contents", {})
    md.append("# vbridge benchmark\n")
    md.append(f"Made by `{env.get('command', '?')}` (what `make bench` runs), "
              f"{env.get('mode', '?')} mode, "
              f"{env.get('date_utc', '?')}, commit {env.get('git_commit', '?')}, "
              f"{env.get('wall_seconds', '?')} s wall.\n")
    md.append("| environment | |\n|---|---|")
    for k, label in [("cpu_model", "CPU"), ("host_cpus", "host CPUs"),
                     ("host_kernel", "host kernel"), ("guest_kernel", "guest kernel"),
                     ("qemu", "QEMU"), ("accel", "accelerator"),
                     ("vcpus", "guest vCPUs"), ("guest_mem_mb", "guest memory, MiB"),
                     ("fio", "fio"), ("git", "git"),
                     ("load_avg_start", "host load average at start"),
                     ("load_avg_end", "host load average at end")]:
        md.append(f"| {label} | {env.get(k, '?')} |")
    md.append("")
    md.append(f"Sizes: {sz.get('files', '?')} small files of 4 KiB; "
              f"the tree `{os.path.basename(os.path.dirname(os.path.dirname(sz.get('tree', '?/?/?'))))}/"
              f"{'/'.join(sz.get('tree', '?').split('/')[-2:])}` "
              f"({ct.get('TREE_ENTRIES', '?')} entries, {ct.get('GIT_FILES', '?')} files in git, "
              f"tarball {ct.get('TAR_BYTES', 0) / 1e6:.1f} MB); sequential file "
              f"{sz.get('seq_mib', '?')} MiB; {sz.get('mmap_reads', '?')} mmap page reads; "
              f"fio on a {sz.get('fio_mib', '?')} MiB file for "
              f"{sz.get('fio_runtime', '?')}{' s' if str(sz.get('fio_runtime', '')).isdigit() else ''} "
              f"per job (io_uring; `O_DIRECT` where the mount takes it: "
              + ", ".join(f"{c} {'yes' if info.get(c, {}).get('fio_direct') == '1' else 'no'}"
                          for c in configs if c in info) + ").\n")
    md.append("Every configuration exports its own copy of the same contents. "
              "Configurations: `vb-*` vbridgefs (`cache=none|auto|always`, `-wb` = "
              "`writeback`), `ubridge` (FUSE + daemon, `cache=auto`), virtiofs "
              "(virtiofsd 7.2 `cache=none|auto`), virtio-9p (`msize=512000`, "
              "`cache=none|loose`), the guest's `tmpfs` (in-guest ceiling) and "
              "`host` (the same workloads on the host: physical ceiling; its cold "
              "phases only drop the file's own pages, so its `find` and `read4k` are warm).\n")
    if env.get("load_avg_start"):
        md.append(f"Host load average (1/5/15 min) {env.get('load_avg_start')} at the start "
                  f"and {env.get('load_avg_end')} at the end: on a shared machine absolute "
                  "figures are noisy; compare within a row.\n")

    md.append("## Throughput (higher is better)\n")
    md.append("| workload | unit | " + " | ".join(configs) + " |")
    md.append("|---|---|" + "---|" * len(configs))
    for w in WORKLOADS:
        md.append(f"| {w} | {UNITS.get(w, 'ops/s')} | "
                  + " | ".join(fmt(val(res, c, w)) for c in configs) + " |")
    md.append("")
    md.append("What each workload does: "
              + "; ".join(f"`{w}` {WHAT[w]}" for w in WORKLOADS) + ".\n")

    pairs = [("vb-auto", "ubridge"), ("vb-auto", "virtiofs-auto"),
             ("vb-none", "virtiofs-none"), ("vb-auto", "9p-loose"),
             ("vb-none", "9p-none"), ("vb-auto", "tmpfs"), ("vb-auto", "host")]
    best_vb = [c for c in configs if c.startswith("vb-")]
    md.append("## Ratios against each baseline\n")
    md.append("vbridgefs throughput divided by the baseline's, like for like "
              "(>1: vbridgefs is faster); the last column is the best vbridgefs "
              "mode against the best of all the other guest configurations.\n")
    md.append("| workload | " + " | ".join(f"{a} / {b}" for a, b in pairs)
              + " | best vb / best other |")
    md.append("|---|" + "---|" * (len(pairs) + 1))
    others = [c for c in configs if not c.startswith("vb-") and c not in ("tmpfs", "host")]
    for w in WORKLOADS:
        cells = [fmt(ratio(val(res, a, w), val(res, b, w))) for a, b in pairs]
        bv = max((val(res, c, w) for c in best_vb if val(res, c, w)), default=None)
        bo = max((val(res, c, w) for c in others if val(res, c, w)), default=None)
        md.append(f"| {w} | " + " | ".join(cells) + f" | {fmt(ratio(bv, bo))} |")
    md.append("")

    md.append("## fio latency, completion p50 / p99, µs (lower is better)\n")
    md.append("| workload | " + " | ".join(configs) + " |")
    md.append("|---|" + "---|" * len(configs))
    for w in FIO:
        cells = []
        for c in configs:
            fr = res.get(c, {}).get(w, {}).get("fio")
            cells.append(f"{fmt(fr['clat_p50_us'])} / {fmt(fr['clat_p99_us'])}" if fr else "-")
        md.append(f"| {w} | " + " | ".join(cells) + " |")
    md.append("")

    guestcfg = [c for c in configs if c != "host"]
    md.append("## Context switches per operation (lower is better)\n")
    md.append("Guest: `/proc/stat` ctxt of the whole guest over the timed section, "
              "divided by its operations (sequential workloads: per MiB; fio: per I/O). "
              "Host: the threads of the process that serves the configuration "
              "(`/proc/PID/task/*/status`, voluntary + nonvoluntary): vbridged for "
              "vbridgefs and ubridge, virtiofsd for virtiofs, QEMU (all its threads, "
              "vCPUs included) for 9p, which QEMU serves itself; none for tmpfs. "
              "Cells are guest + host; `bench.json` also has QEMU's count for every "
              "configuration.  Host threads that exit between the two samples are "
              "missed (thread pools).\n")
    md.append("| workload | " + " | ".join(guestcfg) + " |")
    md.append("|---|" + "---|" * len(guestcfg))
    for w in WORKLOADS:
        cells = []
        for c in guestcfg:
            r = res.get(c, {}).get(w, {})
            if "guest_ctxt_per_op" not in r:
                cells.append("-")
            elif "backend_ctxt_per_op" in r:
                cells.append(f"{fmt(r['guest_ctxt_per_op'])} + {fmt(r['backend_ctxt_per_op'])}")
            else:
                cells.append(fmt(r["guest_ctxt_per_op"]))
        md.append(f"| {w} | " + " | ".join(cells) + " |")
    md.append("")

    # Targets of issue 9, reported, never asserted.
    misses, checked = [], 0

    def target(ok, text):
        nonlocal checked
        checked += 1
        if not ok:
            misses.append(text)
    for w in METADATA:
        r = ratio(val(res, "vb-auto", w), val(res, "ubridge", w))
        target(r is not None and r >= 2, f"{w}: vb-auto / ubridge = {fmt(r)} (target ≥ 2)")
        for a, b in [("vb-auto", "virtiofs-auto"), ("vb-none", "virtiofs-none")]:
            r = ratio(val(res, a, w), val(res, b, w))
            target(r is not None and r >= 3, f"{w}: {a} / {b} = {fmt(r)} (target ≥ 3)")
    for w in DATA:
        for a, b in [("vb-auto", "virtiofs-auto"), ("vb-none", "virtiofs-none")]:
            r = ratio(val(res, a, w), val(res, b, w))
            target(r is not None and r >= 1, f"{w}: {a} / {b} = {fmt(r)} (target ≥ 1)")
    ctxcfg = [c for c in guestcfg if c != "tmpfs"]
    for w in WORKLOADS:
        vb = [(ctx_total(res, c, w), c) for c in ctxcfg if c.startswith("vb-")]
        ot = [(ctx_total(res, c, w), c) for c in ctxcfg if not c.startswith("vb-")]
        vb = [x for x in vb if x[0] is not None]
        ot = [x for x in ot if x[0] is not None]
        ok = bool(vb) and bool(ot) and min(vb)[0] <= min(ot)[0]
        target(ok, f"{w}: fewest context switches per op: best vbridgefs "
               f"{fmt(min(vb)[0]) if vb else '-'} ({min(vb)[1] if vb else '-'}) against "
               f"{fmt(min(ot)[0]) if ot else '-'} ({min(ot)[1] if ot else '-'})")
    md.append("## Targets (issue 9)\n")
    md.append("vbridgefs ≥ 2x ubridge and ≥ 3x virtiofs on every metadata workload "
              f"({', '.join(METADATA)}), ≥ virtiofs on every data workload, and the "
              "fewest context switches per operation of all configurations "
              f"(guest + host, tmpfs left out).  {checked - len(misses)} of {checked} "
              "checks met.")
    if misses:
        md.append(f"\n**Missed ({len(misses)}):**\n")
        md.extend(f"- {m}" for m in misses)
    md.append("")

    if display:
        md.append("## Display, 1920x1080 (`bench/vbridge_display_bench.c`)\n")
        md.append("fps and MB/s: higher is better; µs: lower is better (a ratio "
                  "above 1 there means vbridge is faster).  `damage-64x64` is the "
                  "time until the host has the damage; `-ioctl` until DIRTYFB returns.\n")
        md.append("| phase | metric | vbridge | virtio-gpu | virtio-gpu / vbridge |")
        md.append("|---|---|---|---|---|")
        phases = []
        for d in display.values():
            phases += [p for p in d if p not in phases]
        for p in phases:
            for m in ["fps", "MB/s", "median_us", "p99_us"]:
                a = display.get("vbridge", {}).get(p, {}).get(m)
                b = display.get("virtio_gpu", {}).get(p, {}).get(m)
                if a is None and b is None:
                    continue
                md.append(f"| {p} | {m} | {fmt(a)} | {fmt(b)} | {fmt(ratio(b, a))} |")
        md.append("")
    if ping:
        md.append("Empty request round trip through vbridge.ko (`vbridge_ping_bench`): "
                  f"median {fmt(ping.get('median_us'))} µs, p99 {fmt(ping.get('p99_us'))} µs, "
                  f"{fmt(ping.get('requests_per_s'))} requests/s.\n")

    if fails or missing:
        md.append("## Failures and missing numbers\n")
        md.extend(f"- {f.get('config')} {f.get('workload')}: {f.get('error')}" for f in fails)
        if missing:
            md.append(f"- missing: " + ", ".join(f"{c}/{w}" for c, w in missing))
        md.append("")

    md.append("Charts: `bench-metadata.png`, `bench-data.png` (throughput relative to "
              "virtiofs `cache=auto`, log scale) and `bench-ctxsw.png` (guest + host "
              "context switches per operation, log scale).  Raw figures: `bench.json`.\n")
    with open(os.path.join(out, "bench.md"), "w") as f:
        f.write("\n".join(md))

    base = "virtiofs-auto"
    for name, group, title in [("bench-metadata", METADATA, "metadata workloads"),
                               ("bench-data", DATA, "data workloads")]:
        rows = [(w, [ratio(val(res, c, w), val(res, base, w)) for c in configs])
                for w in group]
        gnuplot(out, name, f"{title}: throughput relative to virtiofs cache=auto "
                f"({env.get('accel', '?')}, {env.get('vcpus', '?')} vCPUs)",
                "x virtiofs cache=auto (log)", configs, rows)
    rows = [(w, [ctx_total(res, c, w) for c in ctxcfg]) for w in WORKLOADS]
    gnuplot(out, "bench-ctxsw", "context switches per operation, guest + host backend",
            "switches per op (log)", ctxcfg, rows)

    print(f"bench-report: {len(configs)} configurations x {len(WORKLOADS)} workloads, "
          f"{len(missing)} numbers missing, {len(fails)} failures, "
          f"targets met {checked - len(misses)}/{checked}")
    if check:
        for f in fails:
            print(f"not ok - bench {f.get('config')} {f.get('workload')}: {f.get('error')}")
        for c in configs:
            miss = [w for cc, w in missing if cc == c]
            print(("not ok" if miss else "ok") + f" - bench {c}: "
                  + (f"missing {', '.join(miss)}" if miss else f"all {len(WORKLOADS)} workloads measured"))
        return 1 if fails or missing else 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
