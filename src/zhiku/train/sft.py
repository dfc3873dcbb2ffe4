"""LoRA supervised fine-tuning of a causal LM on a `zhiku train prepare` directory, through peft + trl.

Chat samples train on the reply only: each {"messages": [..., assistant]} becomes trl's conversational
prompt-completion pair, so the loss skips the system prompt and the sources (learning to reproduce them would
be wasted steps and teaches recitation). Text samples train as plain continuation.

A run directory holds checkpoint-N/ (every `save_steps`, resumable), progress.jsonl (one line per logged step:
what the CLI bar and a UI read), adapter/ (the final LoRA + tokenizer) and run.json (config, metrics, timing).
Ctrl-C asks the trainer to save a checkpoint at the end of the current step and stop; `resume` continues from
the newest checkpoint.
"""
from __future__ import annotations

import errno
import json
import os
import re
import resource
import shutil
import signal
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from zhiku.errors import DiskFullError, EmptyInputError, InputError
from zhiku.train.sft_config import SftConfig

Progress = Callable[[dict], None]


class Interrupted(Exception):
    """Training stopped on Ctrl-C after saving a checkpoint."""

    def __init__(self, checkpoint: Path):
        super().__init__(f"interrupted: checkpoint saved at {checkpoint}; continue with --resume")
        self.checkpoint = checkpoint


@dataclass
class SftResult:
    run_dir: Path
    adapter: Path
    info: dict


def read_split(data: Path, name: str) -> list[dict]:
    path = Path(data) / name
    if not path.is_file():
        if name == "val.jsonl":
            return []
        raise InputError(f"{data}: not a prepared dataset (no {name}; see `zhiku train prepare`)")
    rows = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            rec = json.loads(line)
        except json.JSONDecodeError as e:
            raise InputError(f"{path}:{n}: malformed JSON ({e.msg})") from e
        if isinstance(rec, dict) and isinstance(rec.get("messages"), list) and rec["messages"]:
            msgs = rec["messages"]
            if msgs[-1].get("role") != "assistant":
                raise InputError(f"{path}:{n}: the last message must be the assistant's reply")
            rows.append({"prompt": msgs[:-1], "completion": msgs[-1:]})
        elif isinstance(rec, dict) and isinstance(rec.get("text"), str):
            rows.append({"text": rec["text"]})
        else:
            raise InputError(f"{path}:{n}: expected {{\"messages\": [...]}} or {{\"text\": ...}}")
    if name == "train.jsonl" and not rows:
        raise EmptyInputError(f"{path}: empty dataset (no samples)")
    return rows


_NO_ROOM = {errno.ENOSPC, errno.EFBIG, errno.EDQUOT}
_COMPLETE = "trainer_state.json"  # the trainer writes it last into a checkpoint: without it, the save was cut off


def _checkpoints(run_dir: Path) -> list[Path]:
    return [p for p in Path(run_dir).glob("checkpoint-*") if p.name.split("-")[-1].isdigit()]


def last_checkpoint(run_dir: Path) -> Path | None:
    """The newest complete checkpoint (one cut off by a kill or a full disk is not resumable)."""
    done = [p for p in _checkpoints(run_dir) if (p / _COMPLETE).is_file()]
    return max(done, key=lambda p: int(p.name.split("-")[-1]), default=None)


def _no_room(e: BaseException) -> str | None:
    """Why a write failed for lack of room, or None. The Rust tokenizer's save fails with a bare Exception
    that ends "(os error 28)", not an OSError."""
    if isinstance(e, OSError):
        return e.strerror if e.errno in _NO_ROOM else None
    m = re.search(r"\(os error (\d+)\)", str(e))
    return os.strerror(int(m.group(1))) if m and int(m.group(1)) in _NO_ROOM else None


def _out_of_room(why: str, run_dir: Path, created: bool) -> DiskFullError:
    """Drop what the failed save left half-written (and the run directory if this run made it and nothing
    resumable is in it); the error says where to continue."""
    for ckpt in _checkpoints(run_dir):
        if not (ckpt / _COMPLETE).is_file():
            shutil.rmtree(ckpt, ignore_errors=True)
    shutil.rmtree(run_dir / "adapter", ignore_errors=True)
    kept = last_checkpoint(run_dir)
    if created and kept is None:
        shutil.rmtree(run_dir, ignore_errors=True)
    then = f"free space and continue with --resume (from {kept.name})" if kept else "free space and run it again"
    return DiskFullError(f"{run_dir}: no room to write the checkpoint ({why}); {then}")


def _callback(progress: Progress | None, log_path: Path, stop: dict):
    from transformers import TrainerCallback

    class Report(TrainerCallback):
        """Step, loss, eval loss, tokens/s and ETA to `progress` and progress.jsonl; honours a pending Ctrl-C."""

        def on_train_begin(self, args, state, control, **kw):
            self.t0, self.tokens0, self.step0 = time.perf_counter(), state.num_input_tokens_seen, state.global_step
            self.last: dict = {}

        def on_log(self, args, state, control, logs=None, **kw):
            logs = logs or {}
            elapsed = time.perf_counter() - self.t0
            steps = state.global_step - self.step0
            rec = {"step": state.global_step, "max_steps": state.max_steps, "epoch": round(state.epoch or 0, 3),
                   "elapsed_s": round(elapsed, 1)}
            for k in ("loss", "eval_loss", "learning_rate", "train_loss"):
                if k in logs:
                    rec[k] = round(float(logs[k]), 5)
            if elapsed > 0:
                rec["tokens_per_s"] = round((state.num_input_tokens_seen - self.tokens0) / elapsed, 1)
            if steps > 0:
                rec["eta_s"] = round(elapsed / steps * (state.max_steps - state.global_step), 1)
            self.last = {**self.last, **rec}
            with open(log_path, "a", encoding="utf-8") as f:
                f.write(json.dumps(rec) + "\n")
            if progress:
                progress(self.last)

        def on_step_end(self, args, state, control, **kw):
            if stop["requested"]:
                control.should_save = True
                control.should_training_stop = True

    return Report()


def preflight(cfg: SftConfig, run_dir: Path, resume: bool) -> tuple[list[dict], list[dict]]:
    """Everything that can be refused in a second, before a base model is loaded or derived: (train, val) rows."""
    import torch

    if cfg.qlora and not torch.cuda.is_available():
        raise InputError("--qlora needs a CUDA GPU (bitsandbytes 4-bit); this machine has none: train without it")
    if not cfg.data:
        raise InputError("no dataset: pass --data DIR (a `zhiku train prepare` output)")
    if not resume and last_checkpoint(run_dir) is not None:
        raise InputError(f"{run_dir}: has checkpoints from an earlier run; pass --resume or a new --out")
    if resume and last_checkpoint(run_dir) is None:
        raise InputError(f"{run_dir}: no checkpoint to resume from")
    return read_split(Path(cfg.data), "train.jsonl"), read_split(Path(cfg.data), "val.jsonl")


def train(cfg: SftConfig, base_dir: Path, run_dir: Path, rows: tuple[list[dict], list[dict]], resume: bool = False,
          progress: Progress | None = None) -> SftResult:
    """Fine-tune `base_dir` on `rows` (from `preflight`) into `run_dir`."""
    import importlib.util

    import torch

    run_dir = Path(run_dir)
    train_rows, val_rows = rows
    if cfg.threads > 0:
        torch.set_num_threads(cfg.threads)

    import datasets
    import transformers
    from datasets import Dataset
    from peft import LoraConfig
    from transformers import AutoModelForCausalLM, AutoTokenizer, PrinterCallback
    from trl import SFTConfig, SFTTrainer

    warnings.filterwarnings("ignore", category=FutureWarning)  # transformers 5's renames, not the user's doing
    datasets.disable_progress_bars()  # our bar and progress.jsonl report; stdout stays for --json
    transformers.logging.set_verbosity_error()
    transformers.logging.disable_progress_bar()  # "Loading weights" bars: the sft bar is the one progress report

    tok = AutoTokenizer.from_pretrained(base_dir)
    load_kw: dict = {"dtype": torch.float32}
    if cfg.qlora:
        from transformers import BitsAndBytesConfig

        load_kw = {"dtype": torch.bfloat16, "quantization_config": BitsAndBytesConfig(
            load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_compute_dtype=torch.bfloat16)}
    model = AutoModelForCausalLM.from_pretrained(base_dir, **load_kw)
    n_layers = model.config.num_hidden_layers
    if cfg.top_layers > n_layers:
        raise InputError(f"top_layers = {cfg.top_layers}: {base_dir} has {n_layers} layers")
    top = list(range(n_layers - cfg.top_layers, n_layers)) if cfg.top_layers > 0 else None
    lora = LoraConfig(r=cfg.lora_r, lora_alpha=cfg.lora_alpha, lora_dropout=cfg.lora_dropout,
                      target_modules=list(cfg.target_modules), layers_to_transform=top, task_type="CAUSAL_LM")
    has_val = bool(val_rows)
    args = SFTConfig(
        output_dir=str(run_dir), per_device_train_batch_size=cfg.batch_size, per_device_eval_batch_size=cfg.batch_size,
        gradient_accumulation_steps=cfg.grad_accum, learning_rate=cfg.lr, num_train_epochs=cfg.epochs,
        max_steps=cfg.max_steps, warmup_steps=cfg.warmup_ratio, max_length=cfg.max_len, seed=cfg.seed,
        save_strategy="steps", save_steps=cfg.save_steps, save_total_limit=cfg.save_total_limit,
        eval_strategy="steps" if has_val else "no", eval_steps=cfg.eval_steps, logging_steps=1,
        include_num_input_tokens_seen="non_padding", use_cpu=not torch.cuda.is_available(),
        report_to=["tensorboard"] if importlib.util.find_spec("tensorboard") else "none",
        disable_tqdm=True, dataloader_num_workers=0, gradient_checkpointing=cfg.gradient_checkpointing,
        bf16=cfg.qlora, packing=False)
    stop = {"requested": False}
    created = not run_dir.exists()
    run_dir.mkdir(parents=True, exist_ok=True)
    report = _callback(progress, run_dir / "progress.jsonl", stop)
    trainer = SFTTrainer(model=model, args=args, train_dataset=Dataset.from_list(train_rows),
                         eval_dataset=Dataset.from_list(val_rows) if has_val else None, processing_class=tok,
                         peft_config=lora, callbacks=[report])
    trainer.remove_callback(PrinterCallback)  # it prints every log dict to stdout

    def on_sigint(signum, frame):
        if stop["requested"]:  # a second Ctrl-C: stop now, without the checkpoint
            raise KeyboardInterrupt
        stop["requested"] = True

    previous = signal.signal(signal.SIGINT, on_sigint)
    t0 = time.perf_counter()
    adapter = run_dir / "adapter"
    try:
        out = trainer.train(resume_from_checkpoint=str(last_checkpoint(run_dir)) if resume else None)
        if stop["requested"]:
            raise Interrupted(last_checkpoint(run_dir) or run_dir)
        final_eval = {}
        if has_val:  # the trainer evaluates at its last step already: a second pass costs minutes on CPU for nothing
            last = next((r for r in reversed(trainer.state.log_history) if "eval_loss" in r), None)
            final_eval = last if last and last.get("step") == trainer.state.global_step else trainer.evaluate()
        trainer.save_model(str(adapter))
        tok.save_pretrained(str(adapter))
    except Exception as e:
        why = _no_room(e)
        if why is None:
            raise
        raise _out_of_room(why, run_dir, created) from e
    finally:
        signal.signal(signal.SIGINT, previous)
    state = trainer.state
    info = {
        "base": str(base_dir), "data": str(cfg.data), "config": cfg.to_dict(), "resumed": resume,
        "steps": state.global_step, "train_samples": len(train_rows), "val_samples": len(val_rows),
        "train_loss": round(out.training_loss, 5), "eval_loss": round(final_eval.get("eval_loss", float("nan")), 5)
        if has_val else None, "wall_s": round(time.perf_counter() - t0, 1),
        "tokens": state.num_input_tokens_seen,
        "tokens_per_s": report.last.get("tokens_per_s"),  # this session's, not counting resumed steps
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
        "created_at": time.strftime("%Y-%m-%dT%H:%M:%S"),
    }
    (run_dir / "run.json").write_text(json.dumps(info, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    return SftResult(run_dir, adapter, info)
