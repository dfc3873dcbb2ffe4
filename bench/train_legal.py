"""Issue 12's measured experiment, end to end: does a LoRA on STARD make the answer model answer and cite better?

    python bench/train_legal.py --home /tmp/full --kb laws --base qwen2.5-0.5b --top-k 1,3 --json /tmp/tl.json
    python bench/train_legal.py --limit 4 --una-limit 8 --max-steps 4 --top-k 1   # smoke run (~25 min, 2 cores)

Every step is the real `zhiku` CLI in a subprocess, echoed as a shell line that can be pasted into docs:

1. split    STARD dev (--dataset) by --seed into a training 4/5 and a held-out 1/5 (fold 0 of
            zhiku.train.query_adapter.split_folds), written as WORK/train.jsonl and WORK/heldout.jsonl; the held-out
            questions are never trained on, by the query adapter or the LoRA;
2. adapter  `zhiku train adapter` on the training part only -> WORK/adapter.npz. The bundled query adapter was
            fitted on all of STARD dev, so with it retrieval on the held-out fifth would be in-sample; this one is
            used (ZHIKU_EMBEDDER__QUERY_ADAPTER) by prepare and by every eval, so the figures are honest;
3. prepare  `zhiku train prepare --from qa` on the training part against --kb in --home (read only) -> WORK/data;
4. sft      `zhiku train sft` on --base -> WORK/run (wall time, tokens/s, s/step, peak RSS of the process tree);
5. export   `zhiku train export --format gguf-lora` -> WORK/run/export/adapter.gguf;
6. eval     `zhiku eval answers` on the held-out fifth (--limit cuts it) plus samples/eval/unanswerable.jsonl
            (--una-limit cuts it), with ZHIKU_LLM__MODEL=--base, without and with ZHIKU_LLM__LORA, for each
            --top-k (ZHIKU_RETRIEVAL__TOP_K) -> WORK/eval/*.json.

Then a Markdown table of before/after figures with the issue's floors (and --json FILE with everything).

Reading the KB is all the script does to --home. `train sft`/`train export` run with ZHIKU_HOME=--train-home,
where the bundled model's HF weights are derived once (ZHIKU_HOME/train/base/NAME, base_model.py): a few minutes
and ~4 GB RSS for the 0.5B, then reused by every run and work directory.

Resumable: a step is skipped when its outputs exist and were made by the same command from the same upstream
outputs (WORK/stamps.json); change --max-steps and only sft, export and the "after" evals run again. An
interrupted sft continues from its newest checkpoint (--resume). --fresh redoes everything in WORK, --redo
STEP[,STEP] redoes the named steps (and what depends on them).
"""
from __future__ import annotations

import argparse
import hashlib
import json
import math
import os
import shlex
import shutil
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
STEPS = ("split", "adapter", "prepare", "sft", "export", "eval")
PARAMS = {"qwen2.5-0.5b": 0.494e9, "qwen2.5-1.5b": 1.544e9}  # Qwen2.5 model cards: training FLOPs/token ∝ params

# The floors on the held-out fifth (after training)
FLOOR_REFUSED_WITH_GOLD = 0.10
FLOOR_CITED_WITH_GOLD = 0.85
FLOOR_GAIN = 2.0
FLOOR_UNANSWERABLE = 0.9


def zhiku_cmd() -> list[str]:
    exe = Path(sys.executable).parent / "zhiku"
    return [str(exe)] if exe.is_file() else [sys.executable, "-m", "zhiku.cli"]


def shell_line(env: dict[str, str], argv: list[str]) -> str:
    return " ".join([*(f"{k}={shlex.quote(v)}" for k, v in env.items()), *map(shlex.quote, argv)])


def log(msg: str) -> None:
    print(msg, flush=True)


class Runner:
    """Runs the steps: stamps, skipping, echo, wall time and peak RSS of the whole process tree."""

    def __init__(self, work: Path, redo: set[str]):
        self.work, self.redo = work, redo
        self.stamps_path = work / "stamps.json"
        self.stamps = json.loads(self.stamps_path.read_text()) if self.stamps_path.is_file() else {}
        self.report: dict[str, dict] = {}
        self.commands: list[str] = []
        self.n = 0

    def stamp(self, name: str, what: object, upstream: list[str]) -> str:
        blob = json.dumps([what, [self.stamps.get(u, "") for u in upstream]], sort_keys=True, ensure_ascii=False)
        return hashlib.sha1(blob.encode()).hexdigest()[:16]

    def fresh(self, name: str, stamp: str, outputs: list[Path]) -> bool:
        return (name.split(":")[0] not in self.redo and self.stamps.get(name) == stamp
                and all(p.exists() for p in outputs))

    def done(self, name: str, stamp: str, info: dict) -> None:
        self.stamps[name] = stamp
        self.save()
        self.report[name] = info

    def save(self) -> None:
        self.stamps_path.write_text(json.dumps(self.stamps, indent=1) + "\n")

    def run(self, name: str, argv: list[str], env: dict[str, str], outputs: list[Path], upstream: list[str],
            heartbeat=None, stamp: str | None = None, phase: Path | None = None) -> dict:
        """Run one CLI step unless it is up to date; returns {cmd, wall_s, peak_rss_mb, skipped}. `stamp`
        overrides the one made from the command (sft: a --resume does not make it another step)."""
        self.n += 1
        line = shell_line(env, argv)
        self.commands.append(line)
        stamp = stamp or self.stamp(name, [argv, env], upstream)
        if self.fresh(name, stamp, outputs):
            info = {**self.stamps.get(f"{name}#info", {}), "cmd": line, "skipped": True}
            log(f"[{self.n}] {name}: up to date, skipped ({', '.join(str(p) for p in outputs)})")
            self.report[name] = info
            return info
        log(f"[{self.n}] {name}: running\n    $ {line}")
        logs = self.work / "logs"
        logs.mkdir(parents=True, exist_ok=True)
        log_path = logs / f"{name.replace(':', '-')}.log"
        t0 = time.perf_counter()
        with open(log_path, "w", encoding="utf-8") as f:
            proc = subprocess.Popen(argv, env={**os.environ, **env}, stdout=f, stderr=subprocess.STDOUT, cwd=REPO)
            peak, phase_peak = watch(proc, t0, name, heartbeat, phase)
        wall = time.perf_counter() - t0
        if proc.returncode != 0:
            tail = log_path.read_text(encoding="utf-8", errors="replace").strip().splitlines()[-15:]
            log("\n".join(f"    | {t}" for t in tail))
            sys.exit(f"[{self.n}] {name}: failed (exit {proc.returncode}) after {wall:.0f} s; log: {log_path}")
        info = {"cmd": line, "wall_s": round(wall, 1), "peak_rss_mb": round(peak / 2**20), "skipped": False}
        if phase is not None:
            info["peak_rss_mb_training"] = round(phase_peak / 2**20)  # from the first logged step on
        log(f"[{self.n}] {name}: done in {wall:.0f} s, peak RSS {info['peak_rss_mb']} MB (log: {log_path})")
        self.stamps[f"{name}#info"] = {k: v for k, v in info.items() if k != "cmd"}
        self.done(name, stamp, info)
        return info


def watch(proc: subprocess.Popen, t0: float, name: str, heartbeat, phase: Path | None = None) -> tuple[int, int]:
    """Wait for `proc`, sampling the RSS of it and all its descendants every 0.5 s; a progress line a minute.
    Returns (peak, peak once `phase` exists): sft derives the base model, then trains, in one process."""
    import psutil

    peak, phase_peak, last_beat = 0, 0, time.perf_counter()
    try:
        root = psutil.Process(proc.pid)
    except psutil.NoSuchProcess:
        root = None
    while proc.poll() is None:
        if root is not None:
            total = 0
            try:
                for p in [root, *root.children(recursive=True)]:
                    try:
                        total += p.memory_info().rss
                    except psutil.Error:
                        pass
            except psutil.Error:
                pass
            peak = max(peak, total)
            if phase is not None and phase.exists():
                phase_peak = max(phase_peak, total)
        if time.perf_counter() - last_beat >= 60:
            last_beat = time.perf_counter()
            extra = heartbeat() if heartbeat else ""
            log(f"    {name}: {last_beat - t0:.0f} s, peak RSS so far {peak / 2**20:.0f} MB"
                + (f" · {extra}" if extra else ""))
        time.sleep(0.5)
    return peak, phase_peak


def tail_json(path: Path) -> dict:
    try:
        lines = path.read_text(encoding="utf-8").strip().splitlines()
        return json.loads(lines[-1]) if lines else {}
    except (OSError, ValueError):
        return {}


def count_lines(path: Path) -> int:
    try:
        return sum(1 for _ in path.open(encoding="utf-8"))
    except OSError:
        return 0


# ---------------------------------------------------------------- steps


def split_dataset(args, work: Path, runner: Runner) -> tuple[Path, Path, Path]:
    """Fold 0 of split_folds(n, 5, seed) is the held-out fifth; the rest is trained on. Lines are copied as is."""
    from zhiku.train.query_adapter import split_folds

    runner.n += 1
    lines = [ln for ln in Path(args.dataset).read_text(encoding="utf-8").splitlines() if ln.strip()]
    train_idx, held_idx = split_folds(len(lines), 5, args.seed)[0]
    una_lines = [ln for ln in Path(args.unanswerable).read_text(encoding="utf-8").splitlines() if ln.strip()]
    if args.una_limit and args.una_limit < len(una_lines):  # spread over the file (it is grouped by category)
        step = len(una_lines) / args.una_limit
        una_lines = [una_lines[int(i * step)] for i in range(args.una_limit)]
    files = {work / "train.jsonl": [lines[i] for i in sorted(train_idx)],
             work / "heldout.jsonl": [lines[i] for i in sorted(held_idx)],
             work / "unanswerable.jsonl": una_lines}
    blob = {str(p): hashlib.sha1("\n".join(v).encode()).hexdigest() for p, v in files.items()}
    stamp = runner.stamp("split", blob, [])
    if runner.fresh("split", stamp, list(files)):
        log(f"[{runner.n}] split: up to date, skipped")
    else:
        for p, v in files.items():
            p.write_text("\n".join(v) + "\n", encoding="utf-8")
        log(f"[{runner.n}] split: {args.dataset} ({len(lines)} questions, seed {args.seed}) -> "
            f"{len(train_idx)} train + {len(held_idx)} held out; {len(una_lines)} unanswerable")
    runner.done("split", stamp, {"questions": len(lines), "train": len(train_idx), "heldout": len(held_idx),
                                 "unanswerable": len(una_lines), "seed": args.seed, "dataset": str(args.dataset),
                                 "files": [str(p) for p in files]})
    return work / "train.jsonl", work / "heldout.jsonl", work / "unanswerable.jsonl"


def training_figures(run: Path, manifest: dict, base: str, epochs: float) -> dict:
    """s/step, tokens/s, samples, and full-run extrapolations from the run's run.json and progress.jsonl."""
    info = json.loads((run / "run.json").read_text(encoding="utf-8"))
    cfg = info["config"]
    steps_log = [json.loads(ln) for ln in (run / "progress.jsonl").read_text().splitlines() if ln.strip()]
    train_steps = [r for r in steps_log if "loss" in r and "eval_loss" not in r]
    last = max(train_steps, key=lambda r: r["step"]) if train_steps else {}
    steps = info["steps"]
    s_per_step = (last.get("elapsed_s", info["wall_s"]) / steps) if steps else None
    per_step = cfg["batch_size"] * cfg["grad_accum"]
    samples = manifest["counts"]["train"]
    full_steps = math.ceil(samples / per_step) * epochs
    out = {
        "base": base, "steps": steps, "samples_per_step": per_step, "train_samples": samples,
        "val_samples": manifest["counts"]["val"], "mean_tokens_per_sample": manifest["lengths"]["train"].get("mean"),
        "s_per_step": round(s_per_step, 1) if s_per_step else None,
        # at the last training step: run.json's figure is taken after the final eval, whose time it counts
        "tokens_per_s": last.get("tokens_per_s", info.get("tokens_per_s")),
        "train_wall_s": info["wall_s"], "train_loss": info["train_loss"], "eval_loss": info["eval_loss"],
        "peak_rss_mb_in_process": info["peak_rss_mb"], "full_run": {"epochs": epochs, "steps": full_steps},
    }
    if s_per_step and base in PARAMS:
        for name, p in PARAMS.items():
            hours = full_steps * s_per_step * p / PARAMS[base] / 3600
            out["full_run"][f"{name}_hours" + ("" if name == base else "_scaled_by_params")] = round(hours, 2)
    return out


def eval_row(summary: dict) -> dict:
    a, u, g = summary["answerable"], summary["unanswerable"], summary["generation"]
    return {"answerable": a["n"], "gold_in_sources": a["gold_in_sources"],
            "gold_in_sources_refused": a["gold_in_sources_refused"],
            "gold_in_sources_cited": a["gold_in_sources_cited"], "answered_with_gold": a["answered_with_gold"],
            "citation_recall": a["citation_recall"], "refused": a["refused"],
            "unanswerable": u["n"], "unanswerable_refused": u["refusal_correctness"],
            "ttft_ms_p50": g["ttft_ms_p50"], "tokens_per_s_p50": g["tokens_per_s_p50"],
            "adapter_fitted_on": summary.get("adapter_fitted_on", 0)}


def fmt(v) -> str:
    if v is None:
        return "–"
    return f"{v:.3f}" if isinstance(v, float) else str(v)


def floors(before: dict, after: dict, shipped_before: float | None) -> list[tuple[str, str, str, bool | None]]:
    """(figure, after value, floor, met) for the issue's floors."""
    rows = []

    def check(name, value, floor_txt, ok):
        rows.append((name, fmt(value), floor_txt, None if value is None else ok))

    v = after["gold_in_sources_refused"]
    check("gold in sources: refused", v, f"≤ {FLOOR_REFUSED_WITH_GOLD}", v is not None and v <= FLOOR_REFUSED_WITH_GOLD)
    v = after["gold_in_sources_cited"]
    check("gold in sources: gold cited", v, f"≥ {FLOOR_CITED_WITH_GOLD}", v is not None and v >= FLOOR_CITED_WITH_GOLD)
    v, b = after["answered_with_gold"], before["answered_with_gold"]
    need = FLOOR_GAIN * (b or 0.0)
    check("answered with a gold citation", v, f"≥ {FLOOR_GAIN:g}× before = {need:.3f}", v is not None and v >= need)
    if shipped_before is not None:
        need = FLOOR_GAIN * shipped_before
        check("  … vs before at top_k 1 (shipped)", v, f"≥ {need:.3f}", v is not None and v >= need)
    v = after["unanswerable_refused"]
    check("unanswerable refused", v, f"≥ {FLOOR_UNANSWERABLE}", v is not None and v >= FLOOR_UNANSWERABLE)
    return rows


def markdown(result: dict) -> str:
    out = []
    cfg, tr = result["config"], result.get("training")
    out.append(f"## LoRA on STARD: {cfg['base']}, held-out fifth (seed {cfg['seed']}) of {cfg['dataset']}, "
               f"KB '{cfg['kb']}'\n")
    metrics = ["answerable", "gold_in_sources", "gold_in_sources_refused", "gold_in_sources_cited",
               "answered_with_gold", "citation_recall", "refused", "unanswerable", "unanswerable_refused",
               "ttft_ms_p50", "tokens_per_s_p50", "adapter_fitted_on"]
    ks = list(result["eval"])
    head = "| figure | " + " | ".join(f"before k={k} | after k={k}" for k in ks) + " |"
    out += [head, "|---|" + "---:|---:|" * len(ks)]
    for m in metrics:
        cells = []
        for k in ks:
            e = result["eval"][k]
            cells += [fmt(e.get("before", {}).get(m)), fmt(e.get("after", {}).get(m))]
        out.append(f"| {m} | " + " | ".join(cells) + " |")
    out.append("")
    out.append("Floors (after training, held-out fifth):\n")
    out += ["| top_k | figure | after | floor | met |", "|---|---|---:|---|---|"]
    for k in ks:
        for name, val, floor_txt, ok in result["floors"].get(k, []):
            out.append(f"| {k} | {name} | {val} | {floor_txt} | {'–' if ok is None else ('yes' if ok else 'NO')} |")
    if tr:
        fr = tr["full_run"]
        out.append("")
        out.append(f"Training ({tr['base']}): {tr['steps']} steps × {tr['samples_per_step']} samples, "
                   f"{tr['s_per_step']} s/step, {tr['tokens_per_s']} tokens/s, train loss {tr['train_loss']}, "
                   f"eval loss {tr['eval_loss']}, sft wall {result['steps']['sft'].get('wall_s', '–')} s, peak RSS "
                   f"{result['steps']['sft'].get('peak_rss_mb', '–')} MB (process tree; "
                   f"{result['steps']['sft'].get('peak_rss_mb_training', '–')} MB from the first step on, without "
                   f"the one-time base derivation); {tr['train_samples']} "
                   f"train samples (mean {tr['mean_tokens_per_sample']} tokens). A full run ({fr['epochs']:g} epochs, "
                   f"{fr['steps']:g} steps): " + ", ".join(f"{k} {v} h" for k, v in fr.items() if k.endswith(
                       ("hours", "params"))) + ".")
    out.append("")
    out.append("Commands:\n\n```sh\n" + "\n".join(result["commands"]) + "\n```")
    return "\n".join(out)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    ap.add_argument("--home", default="/tmp/full", help="ZHIKU_HOME holding the ingested KB (read only)")
    ap.add_argument("--kb", default="laws")
    ap.add_argument("--dataset", default=str(REPO.parent / "shared/data/stard/dev.jsonl"),
                    help="STARD/LeCoQA records (query, gold, answer)")
    ap.add_argument("--unanswerable", default=str(REPO / "samples/eval/unanswerable.jsonl"))
    ap.add_argument("--seed", type=int, default=0, help="the held-out fifth, the sampler and training")
    ap.add_argument("--work", default="/tmp/train_legal", help="work directory (every step resumes from it)")
    ap.add_argument("--train-home", default=str(Path.home() / ".cache/zhiku/train-home"),
                    help="ZHIKU_HOME of sft/export: where the base model's HF weights are derived once")
    ap.add_argument("--base", default="qwen2.5-0.5b", choices=sorted(PARAMS), help="the bundled model to train")
    ap.add_argument("--epochs", type=float, default=3.0)
    ap.add_argument("--max-steps", type=int, default=-1, help="> 0: stop after this many optimizer steps")
    ap.add_argument("--batch-size", type=int, default=0, help="0 = train sft's default")
    ap.add_argument("--grad-accum", type=int, default=0, help="0 = train sft's default")
    ap.add_argument("--lr", type=float, default=0.0, help="0 = train sft's default")
    ap.add_argument("--threads", type=int, default=0, help="torch threads for sft (0 = torch's default)")
    ap.add_argument("--set", dest="sft_set", action="append", default=[],
                    help="any `train sft` setting as key=value, e.g. top_layers=8 (repeatable)")
    ap.add_argument("--sources", type=int, default=3, help="prepare: sources per sample (gold + distractors)")
    ap.add_argument("--refusal-share", type=float, default=0.2, help="prepare: answerable records turned refusals")
    ap.add_argument("--max-len", type=int, default=1024, help="prepare and sft: tokens per sample")
    ap.add_argument("--val-split", type=float, default=0.1, help="prepare: share of samples for sft's eval loss")
    ap.add_argument("--max-answer-chars", type=int, default=200, help="prepare: reference answers clipped here")
    ap.add_argument("--adapter-folds", type=int, default=0,
                    help="train adapter: cross-validate first on this many folds (0 = fit only)")
    ap.add_argument("--top-k", default="1,3", help="comma-separated retrieval.top_k values to evaluate")
    ap.add_argument("--limit", type=int, default=0, help="only the first N held-out questions (0 = all)")
    ap.add_argument("--una-limit", type=int, default=0, help="only N unanswerable questions, spread (0 = all)")
    ap.add_argument("--skip-before", action="store_true", help="no baseline evals (reuse earlier ones if there)")
    ap.add_argument("--fresh", action="store_true", help="redo every step (clears WORK; the base cache stays)")
    ap.add_argument("--redo", default="", help=f"comma-separated steps to redo: {', '.join(STEPS)}")
    ap.add_argument("--json", dest="json_out", help="write every figure and command here")
    args = ap.parse_args()

    work = Path(args.work).resolve()
    if args.fresh and work.exists():
        shutil.rmtree(work)
    work.mkdir(parents=True, exist_ok=True)
    redo = {s.strip() for s in args.redo.split(",") if s.strip()}
    if redo - set(STEPS):
        sys.exit(f"--redo: unknown steps {', '.join(sorted(redo - set(STEPS)))} (known: {', '.join(STEPS)})")
    ks = [int(k) for k in args.top_k.split(",") if k.strip()]
    home, train_home = str(Path(args.home).resolve()), str(Path(args.train_home).expanduser().resolve())
    zh = zhiku_cmd()
    runner = Runner(work, redo)
    t_start = time.perf_counter()
    log(f"train_legal: base {args.base}, KB '{args.kb}' in {home} (read only), work {work}, train home {train_home}")

    # 1. split
    train_set, heldout, unanswerable = split_dataset(args, work, runner)

    # 2. query adapter without the held-out questions
    adapter = work / "adapter.npz"
    runner.run("adapter", [*zh, "--home", home, "train", "adapter", "--kb", args.kb, "--dataset", str(train_set),
                           "--out", str(adapter), "--folds", str(args.adapter_folds), "--json"],
               {"ZHIKU_EMBEDDER__QUERY_ADAPTER": "none"}, [adapter], ["split"])
    retrieval_env = {"ZHIKU_EMBEDDER__QUERY_ADAPTER": str(adapter)}

    # 3. prepare
    data = work / "data"
    runner.run("prepare", [*zh, "--home", home, "train", "prepare", "--from", "qa", str(train_set), "--kb", args.kb,
                           "--out", str(data), "--seed", str(args.seed), "--val-split", f"{args.val_split:g}", "--max-len", str(args.max_len),
                           "--sources", str(args.sources), "--refusal-share", str(args.refusal_share),
                           "--max-answer-chars", str(args.max_answer_chars), "--json"],
               {**retrieval_env, "ZHIKU_LLM__MODEL": args.base}, [data / "manifest.json"], ["split", "adapter"],
               )
    manifest = json.loads((data / "manifest.json").read_text(encoding="utf-8"))
    c = manifest["counts"]
    log(f"    data: {c['train']} train + {c['val']} val samples "
        f"({', '.join(f'{k} {v}' for k, v in c.items() if k not in ('train', 'val'))}), "
        f"mean {manifest['lengths']['train'].get('mean')} {manifest['length_unit']}")

    # 4. sft
    run = work / "run"
    sft = [*zh, "--home", train_home, "train", "sft", "--data", str(data), "--base", args.base, "--out", str(run),
           "--epochs", f"{args.epochs:g}", "--max-steps", str(args.max_steps), "--max-len", str(args.max_len),
           "--seed", str(args.seed)]
    for flag, v in (("--batch-size", args.batch_size), ("--grad-accum", args.grad_accum), ("--lr", args.lr),
                    ("--threads", args.threads)):
        if v:
            sft += [flag, f"{v:g}" if isinstance(v, float) else str(v)]
    for item in args.sft_set:
        sft += ["--set", item]
    sft_argv = sft + ["--json"]
    sft_stamp = runner.stamp("sft", [sft_argv, {}], ["prepare"])
    if not runner.fresh("sft", sft_stamp, [run / "run.json"]):
        if (run / "run.json").exists() or "sft" in redo or runner.stamps.get("sft:started") != sft_stamp:
            shutil.rmtree(run, ignore_errors=True)  # another command's run, or asked to redo: start over
        elif any(run.glob("checkpoint-*")):
            sft_argv.insert(-1, "--resume")  # the same command was interrupted: continue it
        runner.stamps["sft:started"] = sft_stamp
        runner.save()

    def sft_beat() -> str:
        r = tail_json(run / "progress.jsonl")
        if not r:
            return "no step logged yet (base derivation, model load, first step)"
        return (f"step {r.get('step')}/{r.get('max_steps')} loss {r.get('loss', '–')} "
                f"{r.get('tokens_per_s', '–')} tok/s ETA {r.get('eta_s', 0) / 60:.1f} min")

    runner.run("sft", sft_argv, {}, [run / "run.json"], ["prepare"], heartbeat=sft_beat, stamp=sft_stamp,
               phase=run / "progress.jsonl")  # the training loop's peak, without the one-time base derivation
    training = training_figures(run, manifest, args.base, args.epochs)
    log(f"    training: {training['steps']} steps, {training['s_per_step']} s/step, {training['tokens_per_s']} tok/s,"
        f" loss {training['train_loss']} / eval {training['eval_loss']}")

    # 5. export
    gguf = run / "export" / "adapter.gguf"
    export = [*zh, "--home", train_home, "train", "export", str(run), "--format", "gguf-lora", "--json"]
    if not runner.fresh("export", runner.stamp("export", [export, {}], ["sft"]), [gguf]):
        shutil.rmtree(run / "export", ignore_errors=True)  # export writes its directory whole or refuses
    runner.run("export", export, {}, [gguf], ["sft"])

    # 6. eval: before (base model) and after (base + LoRA), per top_k
    evald = work / "eval"
    evald.mkdir(exist_ok=True)
    tag = f"n{args.limit or 'all'}-u{args.una_limit or 'all'}"
    results: dict[str, dict] = {}
    for k in ks:
        results[str(k)] = {}
        for which in ("before", "after"):
            if which == "before" and args.skip_before and not (evald / f"before-k{k}-{tag}.json").exists():
                continue
            env = {**retrieval_env, "ZHIKU_LLM__MODEL": args.base, "ZHIKU_RETRIEVAL__TOP_K": str(k)}
            if which == "after":
                env["ZHIKU_LLM__LORA"] = str(gguf)
            out = evald / f"{which}-k{k}-{tag}.json"
            per_query = out.with_suffix(".per_query.jsonl")
            argv = [*zh, "--home", home, "eval", "answers", "--kb", args.kb, "--dataset", str(heldout),
                    "--unanswerable", str(unanswerable), "--json", str(out), "--per-query", str(per_query)]
            if args.limit:
                argv += ["--limit", str(args.limit)]
            upstream = ["split", "adapter"] + (["export"] if which == "after" else [])
            total = min(args.limit or 10**9, count_lines(heldout)) + count_lines(unanswerable)
            runner.run(f"eval:{which}-k{k}", argv, env, [out], upstream,
                       heartbeat=lambda p=per_query, t=total: f"{count_lines(p)}/{t} questions")
            results[str(k)][which] = eval_row(json.loads(out.read_text(encoding="utf-8")))

    shipped = results.get("1", {}).get("before", {}).get("answered_with_gold")
    floor_rows = {k: floors(r["before"], r["after"], shipped if k != "1" else None)
                  for k, r in results.items() if "before" in r and "after" in r}
    result = {
        "config": {k: v for k, v in vars(args).items() if k not in ("fresh", "redo", "json_out")}
        | {"work": str(work), "home": home, "train_home": train_home},
        "split": runner.report.get("split"),
        "data": {"counts": manifest["counts"], "lengths": manifest["lengths"], "unit": manifest["length_unit"]},
        "training": training,
        "steps": {n: {k: v for k, v in i.items() if k != "cmd"} for n, i in runner.report.items() if n != "split"},
        "eval": results,
        "floors": {k: [{"figure": a, "after": b, "floor": c, "met": d} for a, b, c, d in rows]
                   for k, rows in floor_rows.items()},
        "commands": runner.commands,
        "wall_s": round(time.perf_counter() - t_start, 1),
    }
    table = markdown({**result, "floors": floor_rows})
    (work / "result.md").write_text(table + "\n", encoding="utf-8")
    (work / "result.json").write_text(json.dumps(result, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    if args.json_out:
        Path(args.json_out).write_text(json.dumps(result, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    print()
    print(table)
    log(f"\ntrain_legal: {result['wall_s']:.0f} s this invocation; {work / 'result.md'}, {work / 'result.json'}")


if __name__ == "__main__":
    main()
