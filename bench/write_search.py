"""The writing workspace at novel scale: a synthetic 300k-character novel with 500 memories.

Measures the import, the first search (which builds the memory index: embedding every record), memory search
latency (p50 / p95 over --queries searches), the memory recall of a continuation (names + two searches), and the
time to first token of a continuation with the configured model (default the bundled 0.5B), the prompt filled
with as much preceding text as fits llm.n_ctx (or --context-tokens).

    python bench/write_search.py [--chars 300000] [--memories 500] [--queries 100] [--continuations 3]
"""
from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

SURNAMES = "林陆周赵孟沈顾叶苏江许韩秦宋温谢萧方唐楚"
GIVEN = "秋沉山明远小满三娘青云若雪长风寒星晚舟子衿明月清河望北知夏听雨"
PLACES = ["星落镇", "白水河", "灯塔", "醉月楼", "寒山寺", "北境关", "雪狼谷", "青石桥", "望月台", "铁匠铺"]
THINGS = ["寒霜剑", "铜哨", "白鹤玉佩", "狼皮袄", "星图", "青铜灯", "桂花酒", "红风筝", "乌木弓", "冰河地图"]
COLOURS = ["琥珀色", "灰蓝色", "墨黑色", "浅褐色", "碧绿色"]


def names(rng: random.Random, n: int) -> list[str]:
    out: set[str] = set()
    while len(out) < n:
        out.add(rng.choice(SURNAMES) + rng.choice(GIVEN) + rng.choice(["", rng.choice(GIVEN)]))
    return sorted(out)


def sentence(rng: random.Random, people: list[str]) -> str:
    a, b = rng.sample(people, 2)
    return rng.choice([
        f"{a}在{rng.choice(PLACES)}遇见了{b}，两人谁也没有先开口。",
        f"{a}把{rng.choice(THINGS)}交给{b}，说这是{rng.choice(PLACES)}的旧物。",
        f"风雪里，{a}想起{b}当年在{rng.choice(PLACES)}说过的话。",
        f"{a}的眼睛是{rng.choice(COLOURS)}的，在灯下显得格外安静。",
        f"那天夜里，{rng.choice(PLACES)}的灯火一直亮到天明，{a}守在门口。",
    ])  # fmt: skip


def novel(rng: random.Random, chars: int, people: list[str]) -> str:
    chapters, size, n = [], 0, 0
    while size < chars:
        n += 1
        body = "".join(sentence(rng, people) + ("\n" if rng.random() < 0.2 else "") for _ in range(110))
        chapters.append(f"第{n}章 {rng.choice(PLACES)}\n{body}\n")
        size += len(chapters[-1])
    return "".join(chapters)


def memories(rng: random.Random, n: int, people: list[str]) -> list:
    from zhiku.write import Draft

    out = []
    for i in range(n):
        kind = ("character", "setting", "plot", "dialogue")[i % 4]
        who = people[i % len(people)]
        if kind == "character":
            out.append(Draft(kind, who, f"{who}，{rng.randint(15, 60)}岁，眼睛是{rng.choice(COLOURS)}的，住在"
                                        f"{rng.choice(PLACES)}，随身带着{rng.choice(THINGS)}。"))
        elif kind == "setting":
            out.append(Draft(kind, f"{rng.choice(PLACES)}{i}", f"{rng.choice(PLACES)}附近的地方，{who}常去，"
                                                                f"那里藏着{rng.choice(THINGS)}。"))
        elif kind == "plot":
            out.append(Draft(kind, f"事件{i}", sentence(rng, people) + sentence(rng, people)))
        else:
            out.append(Draft(kind, f"{who}{i}", f"“{rng.choice(PLACES)}的灯不能灭。”{who}对{rng.choice(people)}说。"))
    return out


def pct(xs: list[float], p: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(p * len(xs)))]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--chars", type=int, default=300_000)
    ap.add_argument("--memories", type=int, default=500)
    ap.add_argument("--queries", type=int, default=100)
    ap.add_argument("--continuations", type=int, default=3)
    ap.add_argument("--model", default="qwen2.5-0.5b")
    ap.add_argument("--context-tokens", type=int, default=0, help="Cap the preceding text (0 = fill llm.n_ctx).")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    home = Path(tempfile.mkdtemp(prefix="zhiku-write-search-"))
    os.environ.update(ZHIKU_HOME=str(home), ZHIKU_LLM__MODEL=args.model,
                      ZHIKU_WRITE__CONTEXT_TOKENS=str(args.context_tokens))
    from zhiku.config import get_settings
    from zhiku.write import Projects

    rng = random.Random(args.seed)
    people = names(rng, 200)
    (home / "novel.txt").write_text(novel(rng, args.chars, people), encoding="utf-8")
    s = get_settings()
    t = time.perf_counter()
    project, chapters = Projects(s).import_file("novel", home / "novel.txt")
    rows = [("import", f"{len(chapters)} chapters, {project.info().chars} chars", time.perf_counter() - t)]
    t = time.perf_counter()
    project.memories.add_many(memories(rng, args.memories, people))
    rows.append(("add memories", f"{args.memories} records (SQLite only)", time.perf_counter() - t))
    t = time.perf_counter()
    project.memories.search("琥珀色的眼睛", 5)
    rows.append(("first search", "builds the index: embeds every record", time.perf_counter() - t))
    queries = [rng.choice([f"{rng.choice(people)}的眼睛是什么颜色", f"谁带着{rng.choice(THINGS)}",
                           f"{rng.choice(PLACES)}发生过什么", rng.choice(people)]) for _ in range(args.queries)]
    lat = []
    for q in queries:
        t = time.perf_counter()
        project.memories.search(q, 5)
        lat.append((time.perf_counter() - t) * 1000)
    passages = [project.tail(300, rng.randint(1, len(chapters))) for _ in range(min(args.queries, 30))]
    rec = []
    for p in passages:
        t = time.perf_counter()
        project.memories.index.recall(p, f"写{rng.choice(people)}来到{rng.choice(PLACES)}", s.write.memory_k)
        rec.append((time.perf_counter() - t) * 1000)
    print(f"novel {project.info().chars} chars, {args.memories} memories, embedder {s.embedder.backend}\n")
    print("| step | what | seconds |\n|---|---|---|")
    for step, what, sec in rows:
        print(f"| {step} | {what} | {sec:.2f} |")
    print(f"\nmemory search (k=5, {len(lat)} queries): p50 {pct(lat, 0.5):.1f} ms, p95 {pct(lat, 0.95):.1f} ms")
    print(f"continuation recall (names + 2 searches, k={s.write.memory_k}, {len(rec)} passages): "
          f"p50 {pct(rec, 0.5):.1f} ms, p95 {pct(rec, 0.95):.1f} ms")
    if args.continuations:
        from zhiku.write.compose import Composer

        composer = Composer(project)
        composer.llm.complete([{"role": "user", "content": "你好"}], composer.sampling(max_tokens=1))  # load
        ttft, prompt = [], []
        for _ in range(args.continuations):
            p = composer.prepare_continue(f"写{rng.choice(people)}走进{rng.choice(PLACES)}",
                                          sampling=composer.sampling(max_tokens=16))
            w = composer.write(p)
            ttft.append(w.timings["ttft_ms"])
            prompt.append(w.usage["prompt_tokens"])
        print(f"continuation TTFT ({args.model}, {len(ttft)} runs, prompt {statistics.mean(prompt):.0f} tokens, "
              f"n_ctx {composer.n_ctx}): p50 {statistics.median(ttft) / 1000:.1f} s")
    print(f"\ncommand: python bench/write_search.py {' '.join(sys.argv[1:])}")


if __name__ == "__main__":
    main()
