"""`zhiku train prepare` on real components: STARD-format records (tests/fixtures/train/stard_qa.jsonl, gold
articles in the session's three ingested statutes) rendered through the real Searcher and prompt builder, text
files in GBK, and the command's one-line errors that leave no output directory behind."""
from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from tests.cli.conftest import run as run_cli

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "train" / "stard_qa.jsonl"


def run(home: Path, *args: str, check: int | None = 0, **env: str) -> subprocess.CompletedProcess:
    return run_cli(home, *args, check=check, timeout=900, **env)


@pytest.fixture(scope="module")
def qa(law_kb):
    """Samples from the fixture records with a third of the answerable ones turned into refusals."""
    from zhiku.eval.dataset import load_dataset
    from zhiku.train.qa_samples import QaOptions, QaSampler, qa_samples

    s, _, kb = law_kb
    sampler = QaSampler(kb, s, QaOptions(sources=3, refusal_share=0.3), seed=5)
    samples, stats = qa_samples(load_dataset(FIXTURE, require_gold=False), sampler)
    return samples, stats


def _sources(user: str) -> list[str]:
    """The source headers ([n] 《law》第X条) of a rendered user message, in order."""
    return [line.split(" ", 1)[1] for line in user.splitlines() if line.startswith("[") and "《" in line]


def test_answer_samples_cite_the_gold_in_the_serving_prompt(qa, law_kb):
    from zhiku.generate.prompts import SYSTEM_PROMPT, build_messages, parse_citations
    from zhiku.train.qa_samples import article_index

    samples, stats = qa
    records = {r["qid"]: r for r in map(json.loads, FIXTURE.read_text("utf-8").splitlines())}
    articles = article_index(law_kb[2].store)
    answers = [r for r in samples if r["kind"] == "answer"]
    assert stats.answer == len(answers) >= 6 and stats.skipped == {}
    for r in answers:
        rec = records[r["qid"]]
        system, user, target = (m["content"] for m in r["messages"])
        assert system == SYSTEM_PROMPT
        titles = _sources(user)
        assert len(titles) == 3
        gold_titles = {articles[g].title for g in rec["gold"]}
        cited = parse_citations(target, len(titles))
        # every gold source is cited by its number, and nothing else is
        assert {titles[n - 1] for n in cited} == gold_titles & set(titles) != set()
        assert target.rstrip("。").endswith(f"[{max(cited)}]") and not target.startswith("您好")
        # the prompt is the pipeline's own: rebuilt from the same articles it is identical
        hits = [next(a for a in articles.values() if a.title == t) for t in titles]
        assert build_messages(rec["query"], hits, max_source_chars=400)[1]["content"] == user
    # the gold is not always source [1]
    assert len({tuple(parse_citations(r["messages"][2]["content"], 3)) for r in answers}) > 1


def test_refusal_samples_withhold_the_gold(qa, law_kb):
    from zhiku.generate.prompts import MODEL_NO_ANSWER, declines
    from zhiku.train.qa_samples import article_index

    samples, stats = qa
    records = {r["qid"]: r for r in map(json.loads, FIXTURE.read_text("utf-8").splitlines())}
    articles = article_index(law_kb[2].store)
    refusals = [r for r in samples if r["kind"] == "refusal"]
    assert stats.refusal == len(refusals) >= 2 and "u1" in {r["qid"] for r in refusals}  # the unanswerable one
    assert stats.answer + stats.refusal == stats.records == len(records)
    for r in refusals:
        user, target = r["messages"][1]["content"], r["messages"][2]["content"]
        assert target == MODEL_NO_ANSWER and declines(target)
        assert not {articles[g].title for g in records[r["qid"]]["gold"]} & set(_sources(user))


def test_reference_answer_drops_the_salutation_and_clips_at_a_sentence():
    from zhiku.train.qa_samples import reference_answer

    text = "您好，根据有关法律的规定，试用期最长六个月。\n超过部分无效。劳动者可以主张赔偿金，具体数额另计。"
    assert reference_answer(text, 500) == "试用期最长六个月。超过部分无效。劳动者可以主张赔偿金，具体数额另计。"
    assert reference_answer(text, 20) == "试用期最长六个月。超过部分无效。"


def test_prepare_qa_writes_a_seeded_split_with_token_lengths(law_kb, tmp_path):
    home = law_kb[0].home
    a, b = tmp_path / "a", tmp_path / "b"
    m = json.loads(run(home, "train", "prepare", "--from", "qa", str(FIXTURE), "--kb", "laws", "--out", str(a),
                       "--seed", "3", "--val-split", "0.2", "--json").stdout)
    run(home, "train", "prepare", "--from", "qa", str(FIXTURE), "--kb", "laws", "--out", str(b), "--seed", "3",
        "--val-split", "0.2")
    train = [json.loads(x) for x in (a / "train.jsonl").read_text("utf-8").splitlines()]
    val = [json.loads(x) for x in (a / "val.jsonl").read_text("utf-8").splitlines()]
    assert m["counts"]["train"] == len(train) and m["counts"]["val"] == len(val) == 3
    assert m["counts"]["answer"] + m["counts"]["refusal"] == len(train) + len(val) == 14
    assert m["format"] == "messages" and all(list(r) == ["messages"] for r in train + val)
    # token lengths from the bundled model's vocabulary: Chinese text is well under one token per character
    assert m["length_unit"] == "tokens"
    chars = [sum(len(x["content"]) for x in r["messages"]) for r in train]
    assert 100 < m["lengths"]["train"]["min"] < min(chars) and m["lengths"]["train"]["max"] < max(chars)
    assert json.loads((a / "manifest.json").read_text("utf-8")) == {k: v for k, v in m.items() if k != "path"}
    # same seed, same data (the manifest differs only in its time stamp)
    assert (a / "train.jsonl").read_bytes() == (b / "train.jsonl").read_bytes()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a", "b"]  # no temp directories left behind


def test_prepare_text_chunks_gbk_at_sentences(law_kb, tmp_path):
    home = law_kb[0].home
    sentences = [f"第{i}回，少年走过第{i}座桥，看见河水向东流去。" for i in range(60)]
    src = tmp_path / "novel"
    src.mkdir()
    (src / "卷一.txt").write_bytes(("\n".join(sentences[:40]) + "\n").encode("gbk"))
    (src / "卷二.md").write_text("".join(sentences[40:]), encoding="utf-8")
    out = tmp_path / "text"
    m = json.loads(run(home, "train", "prepare", "--from", "text", str(src), "--out", str(out), "--chunk-size",
                       "200", "--val-split", "0.1", "--json").stdout)
    rows = [json.loads(x)["text"] for f in ("train.jsonl", "val.jsonl")
            for x in (out / f).read_text("utf-8").splitlines()]
    assert m["format"] == "text" and m["counts"]["text"] == len(rows) and m["counts"]["val"] >= 1
    assert all(len(t) <= 200 and t.endswith("。") for t in rows)
    assert sorted(s for t in rows for s in t.replace("\n", "").split("。") if s) == sorted(s[:-1] for s in sentences)
    small = tmp_path / "small"
    m = json.loads(run(home, "train", "prepare", "--from", "text", str(src), "--out", str(small), "--chunk-size",
                       "40", "--sample", "--json").stdout)
    assert m["sample"] and m["counts"]["train"] == 32 and len((small / "train.jsonl").read_text().splitlines()) == 32


@pytest.mark.parametrize("case", ["empty", "malformed", "no_kb", "too_long", "bad_from"])
def test_prepare_errors_are_one_line_and_leave_no_output(law_kb, tmp_path, case):
    home = law_kb[0].home
    data = tmp_path / "qa.jsonl"
    lines = FIXTURE.read_text("utf-8").splitlines()
    data.write_text({"empty": "\n", "malformed": "\n".join(lines[:2] + ['{"query": "x", "gold": [1]']) + "\n"}
                    .get(case, "\n".join(lines[:3]) + "\n"), encoding="utf-8")
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep.txt").write_text("an earlier dataset")  # must survive a failed run
    args = {"no_kb": ["--kb", "nope"], "too_long": ["--max-len", "50"], "bad_from": ["--from", "pdf"]}.get(case, [])
    p = run(home, "train", "prepare", "--from", "qa", str(data), "--kb", "laws", "--out", str(out), *args,
            check=None)
    want = {"empty": (2, "no queries"), "malformed": (2, f"{data}:3:"), "no_kb": (3, "'nope' does not exist"),
            "too_long": (2, "empty dataset"), "bad_from": (2, "--from must be qa, text or synthetic")}[case]
    assert p.returncode == want[0] and want[1] in p.stderr, p.stderr
    assert len(p.stderr.strip().splitlines()) == 1, p.stderr
    assert [x.name for x in tmp_path.iterdir() if x.name != "qa.jsonl"] == ["out"]
    assert [x.name for x in out.iterdir()] == ["keep.txt"]
