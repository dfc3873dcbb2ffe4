"""Memories extracted from the manuscript by the configured LLM, saved as proposals for the author to review.

Each chapter is cut into pieces of write.extract_chars characters (at paragraph and sentence ends) and each piece
is asked once per type, with that type's prompt (generate/prompts.py), for JSON items {name, text, tags}. Replies
are read leniently (JSON anywhere in them); a reply without JSON is asked again once with a correction, and a
second failure stops the run with ExtractionError naming the chapter and type. Items are validated: a copied
placeholder, an empty or overlong field, or (for people, places, things and speakers) a name the piece never
mentions is dropped and counted. A chapter's proposals are saved together when the whole chapter is done, so a
failure or a kill leaves earlier chapters' proposals and nothing of the failed one.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Callable

from zhiku.config import WriteSettings
from zhiku.errors import ExtractionError, InputError
from zhiku.generate.base import LLM, Sampling, json_values
from zhiku.generate.prompts import EXTRACT_PLACEHOLDERS, EXTRACT_RETRY, build_extract_messages
from zhiku.write.memory import MAX_NAME, TYPES, Draft, Proposal, memory_type, name_key, parse_tags

EXTRACT_TYPES = ("character", "plot", "setting", "dialogue")  # notes are the author's own
_GROUNDED = {"character", "setting", "dialogue"}  # their names must occur in the text they came from
_MAX_ITEM_TEXT = 400
SCHEMA = {"type": "object", "properties": {"items": {"type": "array", "items": {"type": "object", "properties": {
    "name": {"type": "string"}, "text": {"type": "string"}, "tags": {"type": "array", "items": {"type": "string"}}},
    "required": ["name", "text"]}}}, "required": ["items"]}  # fmt: skip
Progress = Callable[[str, int, int], None]


@dataclass
class ExtractReport:
    chapters: list[int] = field(default_factory=list)
    proposals: list[Proposal] = field(default_factory=list)
    calls: int = 0
    retries: int = 0
    dropped: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0

    def drop(self, why: str) -> None:
        self.dropped[why] = self.dropped.get(why, 0) + 1

    def to_dict(self) -> dict:
        return {**{k: v for k, v in self.__dict__.items() if k != "proposals"},
                "proposals": [p.to_dict() for p in self.proposals]}  # fmt: skip


def _field(item: dict, *names: str) -> str:
    return next((str(item[n]).strip() for n in names if isinstance(item.get(n), (str, int, float)) and str(item[n]).strip()), "")


def validate_item(item, memory_type_: str, source: str, chapter: int | None) -> Draft | str:
    """A model's item as a Draft, or why it is dropped."""
    if not isinstance(item, dict):
        return "not an object"
    name = " ".join(_field(item, "name", "名称", "名字", "speaker", "说话人", "title").split())
    text = _field(item, "text", "资料", "描述", "内容", "content", "description", "原话")
    if not name or not text:
        return "missing name or text"
    if name in EXTRACT_PLACEHOLDERS or text in EXTRACT_PLACEHOLDERS:
        return "placeholder copied"
    if len(name) > MAX_NAME:
        return "name too long"
    if memory_type_ in _GROUNDED and name_key(name) not in name_key(source):
        return "name not in the text"
    return Draft(memory_type_, name, text[:_MAX_ITEM_TEXT], parse_tags(item.get("tags")), chapter)


class Extractor:
    def __init__(self, llm: LLM, settings: WriteSettings, types: tuple[str, ...] | list[str] = EXTRACT_TYPES):
        self.llm, self.settings = llm, settings
        self.types = [memory_type(t) for t in types]
        if not self.types:
            raise InputError("no memory types to extract")
        self.sampling = Sampling(max_tokens=settings.extract_max_tokens, temperature=0.0, top_p=1.0, top_k=0,
                                 json_schema=SCHEMA)

    def pieces(self, text: str) -> list[str]:
        from zhiku.ingest.chunkers.recursive import split_text

        return split_text(text, self.settings.extract_chars, 0)

    def _items(self, memory_type_: str, piece: str, where: str, report: ExtractReport) -> list:
        messages = build_extract_messages(memory_type_, piece)
        reply = ""
        for attempt in range(2):
            report.calls += 1
            reply = self.llm.complete(messages, self.sampling)
            for data in json_values(reply):
                if isinstance(data, dict) and isinstance(data.get("items"), list):
                    return data["items"]
                if isinstance(data, dict) and data.get("name"):  # one bare item
                    return [data]
                if isinstance(data, list) and all(isinstance(x, dict) for x in data):  # a bare list of items;
                    return data  # not a stray "[1]" in prose, a citation marker
            if attempt == 0:
                report.retries += 1
                messages = [*messages, {"role": "assistant", "content": reply}, {"role": "user", "content": EXTRACT_RETRY}]
        shown = " ".join(reply.split())[:80]
        raise ExtractionError(f"{where}, {TYPES[memory_type_]}: the model's reply is not JSON even after a retry "
                              f"(nothing from this chapter was kept): {shown!r}")

    def extract(self, text: str, chapter: int | None, where: str, report: ExtractReport,
                progress: Callable[[], None] | None = None) -> list[Draft]:
        """Drafts from `text` (every piece, every type); ExtractionError when a reply stays unusable."""
        drafts: list[Draft] = []
        for piece in self.pieces(text):
            for t in self.types:
                for item in self._items(t, piece, where, report):
                    d = validate_item(item, t, piece, chapter)
                    if isinstance(d, Draft):
                        drafts.append(d)
                    else:
                        report.drop(d)
                if progress:
                    progress()
        return drafts

    def run(self, project, chapters: list[int] | None = None, progress: Progress | None = None,
            text: str | None = None, origin: str | None = None) -> ExtractReport:
        """Extract from the given chapters (all by default), or from `text` (a continuation, credited to the last
        chapter), saving each chapter's drafts as pending proposals once that chapter is done."""
        t0, report = time.perf_counter(), ExtractReport()
        if text is not None:
            last = project.last_chapter().number if project.chapter_count() else None
            jobs = [(last, text, origin or "continue")]
        else:
            numbers = chapters or [c.number for c in project.chapters()]
            if not numbers:
                raise InputError(f"writing project '{project.name}' has no chapters to extract from")
            jobs = [(n, project.chapter(n).text, origin or f"extract chapter {n}") for n in numbers]
        total = sum(len(self.pieces(body)) for _, body, _ in jobs) * len(self.types)
        done = 0

        def step() -> None:
            nonlocal done
            done += 1
            if progress:
                progress("extract", done, total)

        for number, body, why in jobs:
            where = f"writing project '{project.name}', chapter {number}" if number else f"writing project '{project.name}'"
            try:
                drafts = self.extract(body, number, where, report, step)
            except ExtractionError as e:
                if report.chapters:
                    kept = ", ".join(map(str, report.chapters))
                    raise ExtractionError(f"{e}; proposals from chapters {kept} were saved") from None
                raise
            report.proposals += project.memories.propose(drafts, why) if drafts else []
            report.chapters.append(number)
        report.proposals = list({p.id: p for p in report.proposals}.values())  # a later chapter may extend one
        report.seconds = round(time.perf_counter() - t0, 2)
        return report
