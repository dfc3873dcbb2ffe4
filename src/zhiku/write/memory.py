"""A project's long-term memory: typed records (人物, 情节, 设定, 对话, free notes) and proposals awaiting review.

Records and proposals live in the project's SQLite file; every change is one transaction that also bumps
meta.memory_gen, which tells the search index (recall.py) that it is behind. Records are keyed by (type, name):
extraction proposes, the author accepts or rejects, and an accepted proposal whose name a record of its type
already has is merged into that record (its new sentences appended) instead of becoming a duplicate.
"""
from __future__ import annotations

import json
import re
import time
import unicodedata
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Iterable

from zhiku.errors import EmptyInputError, InputError, NotFoundError

TYPES = {"character": "人物", "plot": "情节", "setting": "设定", "dialogue": "对话", "note": "笔记"}
_ALIASES = {**{v: k for k, v in TYPES.items()}, "characters": "character", "人物设定": "character",
            "settings": "setting", "世界观": "setting", "对白": "dialogue", "notes": "note", "备注": "note"}
MAX_NAME, MAX_TEXT, MAX_TAGS = 60, 4000, 12
_SENTENCE = re.compile(r"(?<=[。！？；!?;\n])")
_NOT_WORD = re.compile(r"[\W_]+")


def memory_type(value: str) -> str:
    """A type name from what a user or a model wrote: character/人物, plot/情节, setting/设定, dialogue/对话, note/笔记."""
    v = (value or "").strip()
    t = v.lower() if v.lower() in TYPES else _ALIASES.get(v) or _ALIASES.get(v.lower())
    if t is None:
        raise InputError(f"unknown memory type {value!r} (use {', '.join(f'{k}/{z}' for k, z in TYPES.items())})")
    return t


def name_key(name: str) -> str:
    """What makes two names the same record: width, case and spaces do not count (ＬＩＮ 秋 == lin秋)."""
    return "".join(unicodedata.normalize("NFKC", name).split()).lower()


def parse_tags(tags: str | Iterable[str] | None) -> list[str]:
    """Tags from a list or a comma/、-separated string, trimmed, deduplicated, order kept."""
    if tags is None:
        return []
    items = re.split(r"[,，、;；]", tags) if isinstance(tags, str) else [str(t) for t in tags]
    return list(dict.fromkeys(t.strip() for t in items if t and t.strip()))[:MAX_TAGS]


def merge_text(old: str, new: str) -> str:
    """`old` plus the sentences of `new` it does not already say (punctuation and spaces ignored)."""
    seen = _NOT_WORD.sub("", old)
    added = [s.strip() for s in _SENTENCE.split(new) if s.strip() and _NOT_WORD.sub("", s) not in seen]
    if not added:
        return old
    sep = "" if old.endswith(("。", "！", "？", "\n")) or not old else "；"
    return old + sep + "".join(added)


@dataclass
class Draft:
    """A memory's content, before it has an id: what users add and what extraction proposes."""

    type: str
    name: str
    text: str
    tags: list[str] = field(default_factory=list)
    chapter: int | None = None

    def checked(self) -> Draft:
        """This draft with its fields normalised, or InputError saying what is wrong."""
        name, text = " ".join(str(self.name or "").split()), str(self.text or "").strip()
        if not name or len(name) > MAX_NAME:
            raise InputError(f"memory name must be 1-{MAX_NAME} characters, got {len(name)}")
        if not text or len(text) > MAX_TEXT:
            raise InputError(f"memory '{name}': text must be 1-{MAX_TEXT} characters, got {len(text)}")
        if self.chapter is not None and (not isinstance(self.chapter, int) or self.chapter < 1):
            raise InputError(f"memory '{name}': chapter must be a chapter number (1, 2, ...), got {self.chapter!r}")
        return Draft(memory_type(self.type), name, text, parse_tags(self.tags), self.chapter)

    @property
    def label(self) -> str:
        return TYPES.get(self.type, self.type)

    def to_dict(self) -> dict:
        return {**asdict(self), "label": self.label}


def read_drafts(path: Path) -> list[Draft]:
    """Memories from a file: JSON lines (or one JSON list) of {type, name, text, tags, chapter}; any bad record
    stops the whole file, named by its line."""
    from zhiku.ingest.encoding import decode_bytes

    path = Path(path)
    try:
        text = decode_bytes(path.read_bytes(), str(path))
    except OSError as e:
        raise InputError(f"{path}: cannot read ({e.strerror or e})") from e
    rows: list[tuple[str, object]] = []
    if text.lstrip().startswith("["):
        try:
            records = json.loads(text)
        except json.JSONDecodeError as e:
            raise InputError(f"{path}: line {e.lineno}: not valid JSON ({e.msg})") from None
        rows = [(f"record {n}", r) for n, r in enumerate(records, 1)]
    else:
        for n, line in enumerate(text.splitlines(), 1):
            if line.strip():
                try:
                    rows.append((f"line {n}", json.loads(line)))
                except json.JSONDecodeError as e:
                    raise InputError(f"{path}: line {n}: not valid JSON ({e.msg})") from None
    drafts = []
    for where, r in rows:
        if not isinstance(r, dict):
            raise InputError(f"{path}: {where}: not an object")
        try:
            drafts.append(Draft(r.get("type", ""), r.get("name", ""), r.get("text", ""), r.get("tags"),
                                r.get("chapter")).checked())
        except InputError as e:
            raise InputError(f"{path}: {where}: {e}") from None
    if not drafts:
        raise EmptyInputError(f"{path}: no memories in it")
    return drafts


@dataclass
class Memory(Draft):
    id: int = 0
    source: str = "manual"  # manual | import | extract
    created_at: float = 0.0
    updated_at: float = 0.0

    @property
    def ref(self) -> str:
        return f"m{self.id}"


@dataclass
class Proposal(Draft):
    id: int = 0
    origin: str = ""  # what proposed it: "extract chapter 3", "continue"
    created_at: float = 0.0
    merges_into: int | None = None  # the kept record of the same type and name, if any


_MEMORY_COLS = "type, name, text, tags, chapter, id, source, created_at, updated_at"
_PROPOSAL_COLS = "type, name, text, tags, chapter, id, origin, created_at"


def _memory(row: tuple) -> Memory:
    return Memory(row[0], row[1], row[2], json.loads(row[3]), *row[4:])


def _bump(db) -> None:
    db.execute("UPDATE meta SET value = CAST(value AS INTEGER) + 1 WHERE key = 'memory_gen'")


class Memories:
    def __init__(self, project):
        self.project = project
        self._index = None

    # ---------- records ----------
    def list(self, type: str | None = None) -> list[Memory]:
        if type:
            rows = self.project.rows(f"SELECT {_MEMORY_COLS} FROM memories WHERE type=? ORDER BY id", (memory_type(type),))
        else:
            rows = self.project.rows(f"SELECT {_MEMORY_COLS} FROM memories ORDER BY id")
        return [_memory(r) for r in rows]

    def get(self, memory_id: int) -> Memory:
        rows = self.project.rows(f"SELECT {_MEMORY_COLS} FROM memories WHERE id=?", (memory_id,))
        if not rows:
            raise NotFoundError(f"writing project '{self.project.name}': no memory {memory_id}")
        return _memory(rows[0])

    def get_many(self, ids: list[int]) -> dict[int, Memory]:
        if not ids:
            return {}
        marks = ",".join("?" * len(ids))
        return {r[5]: _memory(r) for r in self.project.rows(f"SELECT {_MEMORY_COLS} FROM memories WHERE id IN ({marks})", ids)}

    def add(self, draft: Draft, source: str = "manual") -> Memory:
        return self.add_many([draft], source)[0]

    def add_many(self, drafts: list[Draft], source: str = "manual") -> list[Memory]:
        """Add records in one transaction (all or none); each is checked first."""
        checked = [d.checked() for d in drafts]
        now, ids = time.time(), []
        with self.project.transaction() as db:
            for d in checked:
                cur = db.execute(
                    "INSERT INTO memories(type, name, key, text, tags, chapter, source, created_at, updated_at)"
                    " VALUES (?,?,?,?,?,?,?,?,?)",
                    (d.type, d.name, name_key(d.name), d.text, json.dumps(d.tags, ensure_ascii=False), d.chapter,
                     source, now, now),
                )
                ids.append(cur.lastrowid)
            _bump(db)
        found = self.get_many(ids)
        return [found[i] for i in ids]

    def edit(self, memory_id: int, **fields) -> Memory:
        """Change some of type, name, text, tags, chapter (None leaves a field as it is; chapter=0 clears it)."""
        old = self.get(memory_id)
        unknown = set(fields) - {"type", "name", "text", "tags", "chapter"}
        if unknown:
            raise InputError(f"memory fields are type, name, text, tags, chapter; not {', '.join(sorted(unknown))}")
        current = asdict(Draft(old.type, old.name, old.text, old.tags, old.chapter))
        current.update({k: v for k, v in fields.items() if v is not None})
        if fields.get("chapter") == 0:
            current["chapter"] = None
        d = Draft(**current).checked()
        with self.project.transaction() as db:
            db.execute(
                "UPDATE memories SET type=?, name=?, key=?, text=?, tags=?, chapter=?, updated_at=? WHERE id=?",
                (d.type, d.name, name_key(d.name), d.text, json.dumps(d.tags, ensure_ascii=False), d.chapter,
                 time.time(), memory_id),
            )
            _bump(db)
        return self.get(memory_id)

    def delete(self, ids: list[int]) -> int:
        """Delete records; every id must exist (nothing is deleted otherwise)."""
        ids = list(dict.fromkeys(ids))
        missing = set(ids) - set(self.get_many(ids))
        if missing:
            raise NotFoundError(f"writing project '{self.project.name}': no memory {', '.join(map(str, sorted(missing)))}")
        with self.project.transaction() as db:
            db.execute(f"DELETE FROM memories WHERE id IN ({','.join('?' * len(ids))})", ids)
            _bump(db)
        return len(ids)

    def generation(self) -> int:
        """Bumped by every change to the records: the search index compares it with the one it reflects."""
        return int(self.project.meta("memory_gen") or 0)

    # ---------- search ----------
    @property
    def index(self):
        if self._index is None:
            from zhiku.write.recall import MemoryIndex

            self._index = MemoryIndex(self)
        return self._index

    def search(self, query: str, k: int = 5, types: list[str] | None = None):
        """The k records that best match `query` (zhiku's hybrid retrieval), as recall.MemoryHit."""
        return self.index.search(query, k, types)

    def close(self) -> None:
        if self._index is not None:
            self._index.close()
            self._index = None

    # ---------- proposals (review before keep) ----------
    def pending(self) -> list[Proposal]:
        rows = self.project.rows(f"SELECT {_PROPOSAL_COLS}, key FROM proposals ORDER BY id")
        kept = {(t, k): i for t, k, i in self.project.rows("SELECT type, key, MIN(id) FROM memories GROUP BY type, key")}
        return [Proposal(r[0], r[1], r[2], json.loads(r[3]), *r[4:8], merges_into=kept.get((r[0], r[8])))
                for r in rows]

    def propose(self, drafts: list[Draft], origin: str) -> list[Proposal]:
        """Save drafts as pending proposals in one transaction. Drafts of the same type and name, among themselves
        and with proposals already pending, are merged into one."""
        merged: dict[tuple[str, str], Draft] = {}
        for d in (d.checked() for d in drafts):
            key = (d.type, name_key(d.name))
            if key in merged:
                m = merged[key]
                m.text, m.tags = merge_text(m.text, d.text), parse_tags(m.tags + d.tags)
                m.chapter = m.chapter or d.chapter
            else:
                merged[key] = d
        now = time.time()
        with self.project.transaction() as db:
            for (type_, key), d in merged.items():
                row = db.execute("SELECT id, text, tags, chapter FROM proposals WHERE type=? AND key=?", (type_, key)).fetchone()
                tags = json.dumps(d.tags, ensure_ascii=False)
                if row:
                    tags = json.dumps(parse_tags(json.loads(row[2]) + d.tags), ensure_ascii=False)
                    db.execute("UPDATE proposals SET text=?, tags=?, chapter=? WHERE id=?",
                               (merge_text(row[1], d.text), tags, row[3] or d.chapter, row[0]))
                else:
                    db.execute("INSERT INTO proposals(type, name, key, text, tags, chapter, origin, created_at)"
                               " VALUES (?,?,?,?,?,?,?,?)", (type_, d.name, key, d.text, tags, d.chapter, origin, now))
        keys = set(merged)
        return [p for p in self.pending() if (p.type, name_key(p.name)) in keys]

    def _proposal_ids(self, ids: list[int] | None) -> list[int]:
        have = [p.id for p in self.pending()]
        if ids is None:
            return have
        missing = sorted(set(ids) - set(have))
        if missing:
            raise NotFoundError(f"writing project '{self.project.name}': no pending proposal {', '.join(map(str, missing))}")
        return list(dict.fromkeys(ids))

    def accept(self, ids: list[int] | None = None) -> list[Memory]:
        """Keep proposals (all pending ones when `ids` is None), in one transaction: each becomes a record, or is
        merged into the record of its type and name."""
        ids = self._proposal_ids(ids)
        if not ids:
            return []
        now, kept = time.time(), []
        with self.project.transaction() as db:
            for pid in ids:
                t, name, key, text, tags, chapter = db.execute(
                    "SELECT type, name, key, text, tags, chapter FROM proposals WHERE id=?", (pid,)).fetchone()
                row = db.execute("SELECT id, text, tags, chapter FROM memories WHERE type=? AND key=? ORDER BY id LIMIT 1",
                                 (t, key)).fetchone()
                if row:
                    db.execute("UPDATE memories SET text=?, tags=?, chapter=?, updated_at=? WHERE id=?",
                               (merge_text(row[1], text)[:MAX_TEXT],
                                json.dumps(parse_tags(json.loads(row[2]) + json.loads(tags)), ensure_ascii=False),
                                row[3] or chapter, now, row[0]))
                    kept.append(row[0])
                else:
                    cur = db.execute(
                        "INSERT INTO memories(type, name, key, text, tags, chapter, source, created_at, updated_at)"
                        " VALUES (?,?,?,?,?,?,?,?,?)", (t, name, key, text, tags, chapter, "extract", now, now))
                    kept.append(cur.lastrowid)
                db.execute("DELETE FROM proposals WHERE id=?", (pid,))
            _bump(db)
        found = self.get_many(kept)
        return [found[i] for i in dict.fromkeys(kept)]

    def reject(self, ids: list[int] | None = None) -> int:
        ids = self._proposal_ids(ids)
        if ids:
            with self.project.transaction() as db:
                db.execute(f"DELETE FROM proposals WHERE id IN ({','.join('?' * len(ids))})", ids)
        return len(ids)
