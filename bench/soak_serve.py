"""Soak: `zhiku serve` under mixed traffic (chat, search, upload + delete) for a long time, its LLM the stand-in.

    nice -n 5 python bench/soak_serve.py --minutes 30 --concurrency 20 --json /tmp/soak.json

Without --home it builds its own knowledge base from samples/laws in a temporary ZHIKU_HOME. Samples the server's
RSS and open file descriptors every --every seconds; the slopes (per hour, least squares over the run after the
first --warmup share) are what a leak shows as. Prints the load report, the slopes and the checks; exit 1 when
one fails: any error besides deliberate backpressure (503/429), RSS growing more than --max-rss-mb-per-h, open
files more than --max-fds-per-h.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import psutil
from rich.console import Console

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_serve import start  # noqa: E402  (the stand-in + server start-up of the serving benchmark)

from zhiku.loadtest.client import LoadConfig, load_questions, report_table, run_load  # noqa: E402
from zhiku.loadtest.ops import parse_mix  # noqa: E402

REPO = Path(__file__).resolve().parents[1]


def build_home(kb: str) -> Path:
    home = Path(tempfile.mkdtemp(prefix="zhiku-soak-"))
    subprocess.run([sys.executable, "-m", "zhiku.cli", "--home", str(home), "ingest", str(REPO / "samples" / "laws"),
                    "--kb", kb, "--create"], check=True,
                   env={**os.environ, "PYTHONPATH": str(REPO / "src")})  # fmt: skip
    return home


class Sampler(threading.Thread):
    """(t, RSS MB, open fds) of a process and its children, every `every` seconds."""

    def __init__(self, pid: int, every: float):
        super().__init__(daemon=True)
        self.proc, self.every, self.samples, self.stop = psutil.Process(pid), every, [], threading.Event()
        self.mem: list[tuple[float, float, float, float]] = []  # (t, RssAnon, RssFile, RssShmem) MB, server only

    def run(self) -> None:
        t0 = time.monotonic()
        while not self.stop.is_set():
            procs = [self.proc, *self.proc.children(recursive=True)]
            rss = fds = 0
            for p in procs:
                try:
                    rss += p.memory_info().rss
                    fds += p.num_fds()
                except psutil.Error:
                    pass
            t = time.monotonic() - t0
            self.samples.append((t, rss / 2**20, fds))
            kb = {}
            try:
                for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
                    if line.startswith(("RssAnon:", "RssFile:", "RssShmem:")):
                        k, v = line.split(":")
                        kb[k] = int(v.split()[0]) / 1024
            except OSError:
                pass
            self.mem.append((t, kb.get("RssAnon", 0.0), kb.get("RssFile", 0.0), kb.get("RssShmem", 0.0)))
            self.stop.wait(self.every)


def slope_per_hour(points: list[tuple[float, float]]) -> float:
    """Least-squares slope of (seconds, value), per hour."""
    n = len(points)
    if n < 2:
        return 0.0
    mx, my = sum(x for x, _ in points) / n, sum(y for _, y in points) / n
    sxx = sum((x - mx) ** 2 for x, _ in points)
    return 3600 * sum((x - mx) * (y - my) for x, y in points) / sxx if sxx else 0.0


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--home", type=Path, default=None, help="ZHIKU_HOME with the KB (default: built from samples/laws)")
    p.add_argument("--kb", default="soak")
    p.add_argument("--minutes", type=float, default=30)
    p.add_argument("--concurrency", type=int, default=20)
    p.add_argument("--mix", default="chat=6,search=3,upload=1")
    p.add_argument("--every", type=float, default=10.0, help="seconds between RSS/fd samples")
    p.add_argument("--warmup", type=float, default=0.2, help="share of the run left out of the slopes")
    p.add_argument("--max-rss-mb-per-h", type=float, default=50.0)
    p.add_argument("--max-fds-per-h", type=float, default=10.0)
    p.add_argument("--json", type=Path, default=None)
    args = p.parse_args()
    # what bench_serve.start() reads
    args.tokens, args.rate, args.latency, args.rerank, args.remote_concurrency, args.quiet = 30, 100.0, 0.05, False, 0, True
    console = Console()
    if args.home is None:
        args.home = build_home(args.kb)
    standin, server, base = start(args)
    sampler = Sampler(server.pid, args.every)
    sampler.start()
    try:
        cfg = LoadConfig(base, args.concurrency, args.minutes * 60, "native", args.kb, timeout=60, mix=parse_mix(args.mix))
        report = asyncio.run(run_load(cfg, load_questions()))
    finally:
        sampler.stop.set()
        sampler.join()
        for proc in (server, standin):
            proc.terminate()
        for proc in (server, standin):
            proc.wait(30)
    steady = [s for s in sampler.samples if s[0] >= args.warmup * args.minutes * 60]
    rss_slope = slope_per_hour([(t, r) for t, r, _ in steady])
    fd_slope = slope_per_hour([(t, f) for t, _, f in steady])
    first, last = sampler.samples[0], sampler.samples[-1]
    errors = {k: v for k, v in report.errors.items() if not k.startswith("backpressure")}
    checks = {
        "no errors besides 503/429": not any(errors.values()),
        f"RSS slope <= {args.max_rss_mb_per_h:g} MB/h": rss_slope <= args.max_rss_mb_per_h,
        f"open files slope <= {args.max_fds_per_h:g}/h": fd_slope <= args.max_fds_per_h,
    }
    console.print(report_table(report))
    for kind, sample in report.error_samples.items():
        console.print(f"{kind}: {sample}", markup=False)
    console.print(f"server RSS {first[1]:.0f} -> {last[1]:.0f} MB, slope {rss_slope:+.1f} MB/h; open files "
                  f"{first[2]} -> {last[2]}, slope {fd_slope:+.1f}/h ({len(steady)} samples after warm-up)")
    msteady = [m for m in sampler.mem if m[0] >= args.warmup * args.minutes * 60]
    mem_slopes = {k: round(slope_per_hour([(m[0], m[i]) for m in msteady]), 1)
                  for i, k in ((1, "anon"), (2, "file"), (3, "shmem"))}
    if sampler.mem:
        console.print(f"server anon {sampler.mem[0][1]:.0f} -> {sampler.mem[-1][1]:.0f} MB, file "
                      f"{sampler.mem[0][2]:.0f} -> {sampler.mem[-1][2]:.0f} MB; slopes MB/h {mem_slopes}")
    for name, ok in checks.items():
        console.print(f"{'PASS' if ok else 'FAIL'}  {name}")
    if args.json:
        args.json.write_text(json.dumps({
            "report": report.to_dict(), "rss_mb_per_h": round(rss_slope, 2), "fds_per_h": round(fd_slope, 2),
            "rss_mb": [first[1], last[1]], "fds": [first[2], last[2]], "samples": sampler.samples, "checks": checks,
            "mem_samples": sampler.mem, "mem_slopes_mb_per_h": mem_slopes,
            "args": {k: str(v) for k, v in vars(args).items()},
        }, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")  # fmt: skip
    sys.exit(0 if all(checks.values()) else 1)


if __name__ == "__main__":
    main()
