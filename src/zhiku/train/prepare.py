"""`zhiku train prepare`'s output: samples -> train.jsonl, val.jsonl and manifest.json in one directory.

The directory appears whole or not at all (atomic.py). A sample longer than `max_len`
(tokens of the answer model, or characters without it: tokens.py) is dropped, never cut: a cut sample would
teach the model to stop mid-answer or to lose its citation line.
"""
from __future__ import annotations

import json
import random
import time
from pathlib import Path
from typing import Callable

from zhiku.errors import EmptyInputError, InputError
from zhiku.train.atomic import atomic_dir
from zhiku.train.tokens import TokenCounter

SAMPLE_SIZE = 32  # `--sample`: enough to try prepare -> sft -> export in a minute
_KEYS = ("messages", "text")  # what a trainer reads; kind / qid / source stay in the manifest's counts


def split(samples: list[dict], val_split: float, seed: int) -> tuple[list[dict], list[dict]]:
    """A seeded shuffle, then the first round(n * val_split) samples (at least one when asked for any) as val."""
    if not 0 <= val_split < 1:
        raise InputError(f"--val-split must be in [0, 1), got {val_split}")
    order = list(samples)
    random.Random(seed).shuffle(order)
    n_val = min(len(order) - 1, max(1, round(len(order) * val_split))) if val_split > 0 else 0
    return order[n_val:], order[:n_val]


def _stats(lengths: list[int]) -> dict:
    if not lengths:
        return {"n": 0}
    s = sorted(lengths)
    return {"n": len(s), "min": s[0], "mean": round(sum(s) / len(s), 1), "p95": s[int(0.95 * (len(s) - 1))],
            "max": s[-1], "total": sum(s)}


def _kinds(samples: list[dict]) -> dict[str, int]:
    out: dict[str, int] = {}
    for r in samples:
        out[r["kind"]] = out.get(r["kind"], 0) + 1
    return out


def write_dataset(
    samples: list[dict],
    out: Path,
    counter: TokenCounter,
    val_split: float = 0.1,
    seed: int = 0,
    max_len: int = 0,
    sample: bool = False,
    info: dict | None = None,
    progress: Callable[[str, int, int], None] | None = None,
    extras: dict[str, list[dict]] | None = None,
) -> dict:
    """Write the dataset directory atomically; returns its manifest. `extras`: more jsonl files to put in it
    (file name -> records), such as the synthetic question-article pairs the samples came from."""
    lengths, kept, too_long = [], [], 0
    for i, r in enumerate(samples):
        n = counter(r)
        if max_len and n > max_len:
            too_long += 1
        else:
            kept.append(r)
            lengths.append(n)
        if progress:
            progress("lengths", i + 1, len(samples))
    length_of = {id(r): n for r, n in zip(kept, lengths)}
    if not kept:
        why = f"all {len(samples)} are longer than --max-len {max_len} {counter.unit}" if samples else "no input"
        raise EmptyInputError(f"empty dataset: no samples ({why})")
    train, val = split(kept, val_split, seed)
    if sample:
        train, val = train[:SAMPLE_SIZE], val[: max(1, SAMPLE_SIZE // 8)] if val else []
    fmt = "messages" if "messages" in kept[0] else "text"
    manifest = {
        "format": fmt,
        "created_at": time.strftime("%Y-%m-%dT%H:%M:%S"),
        "seed": seed,
        "val_split": val_split,
        "max_len": max_len,
        "sample": sample,
        "counts": {"train": len(train), "val": len(val), "too_long": too_long, **_kinds(train + val)},
        "length_unit": counter.unit,
        "lengths": {"train": _stats([length_of[id(r)] for r in train]),
                    "val": _stats([length_of[id(r)] for r in val])},
        **(info or {}),
    }
    with atomic_dir(out) as tmp:
        for name, rows in (("train.jsonl", train), ("val.jsonl", val)):
            with open(tmp / name, "w", encoding="utf-8") as f:
                for r in rows:
                    f.write(json.dumps({k: r[k] for k in _KEYS if k in r}, ensure_ascii=False) + "\n")
        for name, rows in (extras or {}).items():
            with open(tmp / name, "w", encoding="utf-8") as f:
                f.writelines(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)
        (tmp / "manifest.json").write_text(json.dumps(manifest, ensure_ascii=False, indent=2) + "\n", "utf-8")
    return manifest

