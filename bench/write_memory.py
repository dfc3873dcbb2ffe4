"""Memory consistency of `zhiku write continue`: does a continuation keep the facts of earlier chapters?

samples/eval/write_memory/: story.txt (an original five-chapter story, 15 facts about its people and places spread
over chapters 1-4), memories.jsonl (the author's hand-written memories of it) and probes.jsonl (instructions
whose right continuation depends on one fact: `expect` keywords, any of which keeps it, and `forbid` keywords
that contradict it). Each probe is continued with memory on and off, greedy, from the end of chapter 5. The
preceding text is capped (--context-tokens, default 200): that is the situation memory is for, a manuscript
far longer than the context, where the chapter holding a fact is long out of view.

    python bench/write_memory.py [--model qwen2.5-0.5b] [--probes 24] [--max-tokens 80] [--extract] [--json out.json]

--extract builds the memory by `zhiku write extract` (every proposal accepted) instead of memories.jsonl.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

DATA = Path(__file__).resolve().parents[1] / "samples" / "eval" / "write_memory"


ECHO = ("【记忆】", "【前文】", "【要求】")  # a reply that copies the prompt's blocks is not a continuation


def score(text: str, probe: dict) -> bool:
    """Kept: an expected keyword is there, no contradicting one, and the prompt is not echoed."""
    if any(e in text for e in ECHO):
        return False
    return any(k in text for k in probe["expect"]) and not any(k in text for k in probe["forbid"])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", default="qwen2.5-0.5b")
    ap.add_argument("--probes", type=int, default=0, help="Only the first N probes (0 = all).")
    ap.add_argument("--max-tokens", type=int, default=80)
    ap.add_argument("--context-tokens", type=int, default=200)
    ap.add_argument("--extract", action="store_true", help="Memories by LLM extraction instead of memories.jsonl.")
    ap.add_argument("--json", type=Path, help="Write every continuation and score here.")
    args = ap.parse_args()
    home = Path(tempfile.mkdtemp(prefix="zhiku-write-bench-"))
    os.environ.update(ZHIKU_HOME=str(home), ZHIKU_LLM__MODEL=args.model,
                      ZHIKU_WRITE__CONTEXT_TOKENS=str(args.context_tokens))
    from zhiku.config import get_settings
    from zhiku.write import Projects
    from zhiku.write.compose import Composer
    from zhiku.write.memory import read_drafts

    s = get_settings()
    project, _ = Projects(s).import_file("bench", DATA / "story.txt")
    t0 = time.perf_counter()
    if args.extract:
        from zhiku.errors import ExtractionError
        from zhiku.write.extract import ExtractReport, Extractor

        report, failed = ExtractReport(), ""
        for chapter in project.chapters():  # chapter by chapter: one unusable reply costs its chapter, not the run
            try:
                r = Extractor(project.llm(), s.write).run(project, [chapter.number])
            except ExtractionError as e:
                failed += f"; chapter {chapter.number} failed: {e}"
                continue
            report.calls, report.retries = report.calls + r.calls, report.retries + r.retries
            for why, k in r.dropped.items():
                report.dropped[why] = report.dropped.get(why, 0) + k
        project.memories.accept()
        how = f"extracted ({report.calls} calls, {report.retries} retries, dropped {report.dropped}{failed})"
    else:
        project.memories.add_many(read_drafts(DATA / "memories.jsonl"))
        how = "memories.jsonl"
    print(f"memory: {len(project.memories.list())} records, {how}, {time.perf_counter() - t0:.0f} s", file=sys.stderr)
    probes = [json.loads(line) for line in (DATA / "probes.jsonl").read_text(encoding="utf-8").splitlines() if line]
    probes = probes[: args.probes or None]
    composer = Composer(project)
    sampling = composer.sampling(temperature=0.0, max_tokens=args.max_tokens)
    rows = []
    for probe in probes:
        row = {"id": probe["id"], "fact": probe["fact"]}
        for memory in (True, False):
            p = composer.prepare_continue(probe["instruction"], memory=memory, sampling=sampling)
            w = composer.write(p)
            key = "on" if memory else "off"
            row[key] = score(w.text, probe)
            row[f"{key}_text"] = w.text
            row[f"{key}_ttft_ms"] = w.timings.get("ttft_ms", 0)
            row[f"{key}_recalled"] = [h.memory.name for h in p.memories]
            row["context_chars"] = p.context_chars
        rows.append(row)
        print(f"{row['id']:<13} on={'✓' if row['on'] else '✗'} off={'✓' if row['off'] else '✗'}  "
              f"{row['on_text'][:40]!r}", file=sys.stderr)
    n = len(rows)
    on, off = sum(r["on"] for r in rows), sum(r["off"] for r in rows)
    print(f"\nmodel {args.model}, {n} probes, greedy, max {args.max_tokens} tokens, preceding text "
          f"{args.context_tokens} tokens (~{rows[0]['context_chars']} chars), memory: {how}\n")
    print("| probe | fact | memory on | memory off |\n|---|---|---|---|")
    for r in rows:
        print(f"| {r['id']} | {r['fact']} | {'kept' if r['on'] else '—'} | {'kept' if r['off'] else '—'} |")
    print(f"| **all** | | **{on}/{n} ({on / n:.0%})** | **{off}/{n} ({off / n:.0%})** |")
    ttft = sorted(r["on_ttft_ms"] for r in rows)
    print(f"\nTTFT with memory p50 {ttft[n // 2]:.0f} ms; command: python bench/write_memory.py {' '.join(sys.argv[1:])}")
    if args.json:
        args.json.write_text(json.dumps(rows, ensure_ascii=False, indent=1), encoding="utf-8")


if __name__ == "__main__":
    main()
