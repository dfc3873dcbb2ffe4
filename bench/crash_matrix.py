"""Crash matrix: kill -9 at random points of ingest, document delete, KB delete and upload jobs, on the embedded
store and the Milvus path; after each kill the knowledge base must check clean, the operation re-run to completion
must leave the counts of a clean run, and search must find the expected article.

    python bench/crash_matrix.py --points 50 --seed 13
    python bench/crash_matrix.py --ops ingest,upload --engines local --points 6 --data articles   # quick

Each operation runs as real processes in their own process group, and the kill takes the whole group: the CLI for
ingest (`zhiku ingest --create`) and KB delete (`zhiku kb delete --yes`), `zhiku serve` for document delete
(DELETE /api/kbs/{kb}/documents/{id}) and upload jobs (POST /api/kbs/{kb}/documents, then GET /api/jobs/{id}).
Per operation and engine a clean run comes first: its duration bounds the kill delays (uniform in [0, duration],
from --seed), its final counts are the reference. After each kill:

1. `zhiku kb check KB --json` exits 0 (SQLite integrity, counts across the engine's indexes, unfinished writes), or
   the knowledge base is absent where that is a legitimate outcome (an ingest killed before it created the KB, a KB
   delete that got that far; a KB delete that did not must have left the KB whole);
2. the operation runs again to completion (a new server where the operation is served); an upload job the kill cut
   off must read as failed, and uploads/ must hold no partial or stray file;
3. `kb check` is clean again, documents and chunks equal the clean run's, and `zhiku search` (hybrid, first stage)
   finds the expected article in its top 10.

Everything goes through the CLI and the HTTP API, as a user's would, so this process holds no store or Milvus
connection of its own between points. The Milvus engine runs against a `milvus-lite server` started here (skipped when pymilvus / milvus-lite are not
installed); every kill point gets its own collection prefix. Prints a table (operation x engine: points, passed,
failures with their kill delay) and exits 1 on any failure. Homes of failed points are kept under --workdir.
"""
from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator
from urllib.parse import quote

import httpx

from zhiku.loadtest.process import free_port, milvus_lite_server, wait_ready

REPO = Path(__file__).resolve().parents[1]
KB = "crash"
OPERATIONS = ("ingest", "delete-document", "kb-delete", "upload")
ENGINES = ("local", "milvus")


@dataclass(frozen=True)
class Dataset:
    files: tuple[Path, ...]
    query: str
    expect: str  # the ref a hybrid search for `query` must return in its top 10
    keep: str  # the delete-document operation deletes every document whose id does not contain this


_LABOUR = dict(query="试用期最长多久", expect="中华人民共和国劳动合同法#第十九条", keep="劳动合同法")
DATASETS = {
    # 32 articles of tests/fixtures, one document each, written 8 to a batch: kills land between store writes too
    "articles": Dataset(files=(REPO / "tests/fixtures/articles.jsonl",), **_LABOUR),
    # five statutes of samples/laws, one document (and one store write) each, 256 chunks: embedding takes most of
    # an ingest, so most kill points land in the work rather than in the interpreter's start-up
    "statutes": Dataset(files=tuple(REPO / "samples/laws" / f for f in (
        "社会法/劳动合同法(2012-12-28).md", "民法典/继承编.md", "诉讼与非诉讼程序法/劳动争议调解仲裁法(2007-12-29).md",
        "司法解释/最高人民法院关于审理民间借贷案件适用法律若干问题的规定(2020-12-29).md",
        "司法解释/最高人民法院关于审理道路交通事故损害赔偿案件适用法律若干问题的解释(2020-12-29).md")), **_LABOUR),
}  # fmt: skip


# ---- processes ----------------------------------------------------------------------------------------------------


def kill_group(proc: subprocess.Popen) -> None:
    """SIGKILL the process and everything it started (its own session: see `Home.spawn`)."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()


def stop_group(proc: subprocess.Popen, within: float = 60) -> None:
    """A clean shutdown (SIGTERM), SIGKILL after `within` seconds."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(within)
    except subprocess.TimeoutExpired:
        kill_group(proc)


@dataclass
class Engine:
    name: str
    uri: str = ""  # milvus

    def env(self, tag: str) -> dict[str, str]:
        if self.name == "local":
            return {}
        return {"ZHIKU_STORE__BACKEND": "milvus", "ZHIKU_STORE__URI": self.uri,
                "ZHIKU_STORE__COLLECTION_PREFIX": f"{tag}_"}  # fmt: skip

    @contextlib.contextmanager
    def client(self):
        """A Milvus client with a connection of its own: pymilvus would otherwise share one channel per address
        for the life of this process, idle between points, which milvus-lite ends ("too_many_pings")."""
        from pymilvus import MilvusClient

        client = MilvusClient(uri=self.uri, timeout=30, dedicated=True)
        try:
            yield client
        finally:
            client.close()

    def collections(self, tag: str) -> list[str]:
        """This kill point's collections left in Milvus."""
        if self.name == "local":
            return []
        with self.client() as client:
            return [c for c in client.list_collections() if c.startswith(f"{tag}_")]

    def drop(self, tag: str) -> None:
        if self.name == "milvus":
            with self.client() as client:
                for c in client.list_collections():
                    if c.startswith(f"{tag}_"):
                        client.drop_collection(c)


class Home:
    """The ZHIKU_HOME of one run: zhiku runs there as subprocesses; the verdict opens it in process."""

    def __init__(self, path: Path, engine: Engine, tag: str, data: Dataset):
        self.path, self.engine, self.tag, self.data = path, engine, tag, data
        base = {k: v for k, v in os.environ.items() if not k.startswith("ZHIKU_")}
        self.env = {
            **base, "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO / "src"), base.get("PYTHONPATH")])),
            "ZHIKU_LOG_LEVEL": "WARNING", "ZHIKU_RERANK__ENABLED": "false",
            # serve never generates here: an OpenAI-compatible backend loads nothing at start-up
            "ZHIKU_LLM__BACKEND": "openai", "ZHIKU_LLM__BASE_URL": "http://127.0.0.1:9/v1",
            "ZHIKU_INGEST__BATCH_DOCS": "8", "ZHIKU_CONFIG": str(path / "zhiku.toml"),  # none: defaults + these
            **engine.env(tag),
        }  # fmt: skip

    def argv(self, *args: str) -> list[str]:
        return [sys.executable, "-m", "zhiku", "--home", str(self.path), *args]

    def run(self, *args: str, timeout: float = 900) -> subprocess.CompletedProcess:
        return subprocess.run(self.argv(*args), env=self.env, capture_output=True, text=True, timeout=timeout)

    def spawn(self, *args: str) -> subprocess.Popen:
        return subprocess.Popen(self.argv(*args), env=self.env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                text=True, start_new_session=True)  # fmt: skip

    def must(self, *args: str) -> str:
        done = self.run(*args)
        if done.returncode != 0:
            raise Failure(f"`zhiku {' '.join(args)}` exited {done.returncode}: {tail(done.stderr or done.stdout)}")
        return done.stdout

    def ingest(self) -> None:
        self.must("ingest", *map(str, self.data.files), "--kb", KB, "--create", "--json")

    def kb_exists(self) -> bool:
        """Read from the catalog directly: opening it through zhiku would already run recovery."""
        import sqlite3

        catalog = self.path / "catalog.sqlite"
        if not catalog.exists():
            return False
        db = sqlite3.connect(catalog)
        try:
            return db.execute("SELECT 1 FROM kbs WHERE name=?", (KB,)).fetchone() is not None
        except sqlite3.OperationalError:  # no table yet: killed while creating the catalog
            return False
        finally:
            db.close()

    @contextlib.contextmanager
    def server(self) -> Iterator[Server]:
        srv = Server(self)
        try:
            yield srv
        finally:
            srv.stop()


class Server:
    """`zhiku serve` on a free port, its knowledge base opened (the first request pays for that)."""

    def __init__(self, home: Home):
        port = free_port()
        self.base = f"http://127.0.0.1:{port}"
        self.proc = home.spawn("serve", "--host", "127.0.0.1", "--port", str(port))
        threading.Thread(target=self.proc.stderr.read, daemon=True).start()  # a full pipe would block it
        try:
            wait_ready(f"{self.base}/readyz", self.proc, within=120)
        except SystemExit as e:
            kill_group(self.proc)
            raise Failure(f"zhiku serve did not start: {e}") from None
        self.http = httpx.Client(base_url=self.base, timeout=120)

    def documents(self) -> list[str]:
        r = self.http.get(f"/api/kbs/{KB}/documents")
        r.raise_for_status()
        return [d["doc_id"] for d in r.json()["documents"]]

    def delete(self, doc_id: str) -> None:
        r = self.http.delete(f"/api/kbs/{KB}/documents/{quote(doc_id, safe='')}")
        if r.status_code != 200:
            raise Failure(f"DELETE {doc_id} answered {r.status_code}: {r.text[:300]}")

    def upload(self, files: tuple[Path, ...]) -> str:
        r = self.http.post(f"/api/kbs/{KB}/documents", files=[("files", (f.name, f.read_bytes())) for f in files])
        if r.status_code != 202:
            raise Failure(f"upload answered {r.status_code}: {r.text[:300]}")
        return r.json()["id"]

    def job(self, job_id: str) -> dict:
        r = self.http.get(f"/api/jobs/{job_id}")
        r.raise_for_status()
        return r.json()

    def wait_job(self, job_id: str, within: float = 600) -> dict:
        deadline = time.monotonic() + within
        while (job := self.job(job_id))["state"] in ("queued", "running"):
            if time.monotonic() > deadline:
                raise Failure(f"job {job_id} still {job['state']} after {within} s")
            time.sleep(0.1)
        return job

    def kill(self) -> None:
        self.http.close()
        kill_group(self.proc)

    def stop(self) -> None:
        self.http.close()
        stop_group(self.proc)


class Failure(Exception):
    """A broken promise: the point fails with this message."""


def tail(text: str, n: int = 300) -> str:
    return " ".join((text or "").split())[-n:]


# ---- the checks ---------------------------------------------------------------------------------------------------


def check_kb(home: Home) -> dict | None:
    """The KB's documents and chunks when `zhiku kb check` finds it clean, None when there is no KB; Failure with
    what the check found otherwise."""
    if not home.kb_exists():
        return None
    done = home.run("kb", "check", KB, "--json")
    if done.returncode != 0:
        raise Failure(f"kb check exited {done.returncode}: {tail(done.stdout + ' ' + done.stderr, 600)}")
    counts = json.loads(done.stdout)["counts"]
    return {"documents": counts["documents"], "chunks": counts["chunks"]}


def search(home: Home) -> list[str]:
    """The refs of `zhiku search` for the dataset's query: hybrid, first stage only, top 10."""
    out = home.must("search", home.data.query, "--kb", KB, "--json", "-k", "10", "--mode", "hybrid", "--no-rerank",
                    "--no-rewrite", "--no-hyde")  # fmt: skip
    return [h["ref"] for h in json.loads(out)["hits"]]


def verdict(home: Home, reference: dict | None) -> dict:
    """The state once the operation ran to its end: `kb check` clean, the clean run's counts, the article found.
    Through the CLI like the rest: no store is opened in this long-lived process."""
    got = check_kb(home)
    if got is None:
        raise Failure("the knowledge base is gone")
    if reference is not None and got != reference:
        raise Failure(f"counts {got}, the clean run has {reference}")
    if home.data.expect not in (refs := search(home)):
        raise Failure(f"search for {home.data.query!r} misses {home.data.expect}: top 10 {refs}")
    return got


# ---- operations ---------------------------------------------------------------------------------------------------


class Run:
    """An operation under way since `started`: `wait(t)` waits up to t seconds (None: for ever) for it to end and
    says whether it did; `result()` raises Failure when it ended badly; `kill()` SIGKILLs its process group;
    `shutdown()` ends a clean run (stops its server)."""

    started: float
    notes: dict  # what the operation learnt on the way (the upload's job id)
    ended = False  # it ran to its end (a clean run, or one that finished before the kill came)

    def wait(self, t: float | None) -> bool:
        raise NotImplementedError

    def result(self) -> None:
        raise NotImplementedError

    def kill(self) -> None:
        raise NotImplementedError

    def shutdown(self) -> None:
        pass


class CliRun(Run):
    def __init__(self, home: Home, *args: str):
        self.args, self.notes, self.started = args, {}, time.monotonic()
        self.proc = home.spawn(*args)
        self._err: list[str] = []
        self._reader = threading.Thread(target=lambda: self._err.append(self.proc.stderr.read()), daemon=True)
        self._reader.start()

    def wait(self, t: float | None) -> bool:
        try:
            self.proc.wait(t)
            return True
        except subprocess.TimeoutExpired:
            return False

    def result(self) -> None:
        self._reader.join()
        if self.proc.returncode != 0:
            raise Failure(f"`zhiku {' '.join(self.args)}` exited {self.proc.returncode}: {tail(''.join(self._err))}")

    def kill(self) -> None:
        kill_group(self.proc)


class HttpRun(Run):
    """`work(server, notes)` runs in a thread from now on; the operation's process is the server."""

    def __init__(self, server: Server, work: Callable[[Server, dict], None]):
        self.server, self.notes, self._errors = server, {}, []
        self.started = time.monotonic()
        self._thread = threading.Thread(target=self._target, args=(work,), daemon=True)
        self._thread.start()

    def _target(self, work: Callable[[Server, dict], None]) -> None:
        try:
            work(self.server, self.notes)
        except BaseException as e:  # noqa: BLE001 - a kill cuts requests off; result() reports the rest
            self._errors.append(e)

    def wait(self, t: float | None) -> bool:
        self._thread.join(t)
        return not self._thread.is_alive()

    def result(self) -> None:
        if self._errors:
            raise Failure(f"{type(self._errors[0]).__name__}: {self._errors[0]}")

    def kill(self) -> None:
        self.server.kill()
        self._thread.join(60)

    def shutdown(self) -> None:
        self.server.stop()


class Operation:
    """prepare (not timed) -> start (timed, killed at a point) -> after_kill -> complete -> verdict."""

    name = ""
    may_be_absent = False  # is "the KB does not exist" a legitimate state after a kill?

    def prepare(self, home: Home, template: Callable[[], Path]) -> None:
        pass

    def start(self, home: Home) -> Run:
        raise NotImplementedError

    def after_kill(self, left: dict | None, reference: dict | None) -> None:
        """What the operation promises about the counts a kill `left` (None: no KB), beyond a clean `kb check`."""

    def complete(self, home: Home, run: Run) -> None:
        """Run the operation again to its end (after a kill, or after the clean run: a no-op re-run)."""
        raise NotImplementedError


def ingested(home: Home, template: Callable[[], Path]) -> None:
    """The dataset ingested into KB: a copy of one ingested home on the embedded store (it is all files under
    ZHIKU_HOME), a real ingest for Milvus (its collections live in the server)."""
    if home.engine.name == "local":
        shutil.copytree(template(), home.path)
    else:
        home.ingest()


class Ingest(Operation):
    name, may_be_absent = "ingest", True

    def start(self, home: Home) -> Run:
        return CliRun(home, "ingest", *map(str, home.data.files), "--kb", KB, "--create", "--json")

    def complete(self, home: Home, run: Run) -> None:
        home.ingest()


class DeleteDocument(Operation):
    """DELETE every document but the kept law's through `zhiku serve`, one request after another."""

    name = "delete-document"

    def prepare(self, home: Home, template: Callable[[], Path]) -> None:
        ingested(home, template)

    def start(self, home: Home) -> Run:
        server = Server(home)
        doomed = [d for d in server.documents() if home.data.keep not in d]  # opens the KB: not timed

        def work(srv: Server, notes: dict) -> None:
            for d in doomed:
                srv.delete(d)

        return HttpRun(server, work)

    def complete(self, home: Home, run: Run) -> None:
        with home.server() as srv:
            for d in srv.documents():
                if home.data.keep not in d:
                    srv.delete(d)


class KBDelete(Operation):
    """`zhiku kb delete --yes`: cut short, it leaves the KB whole or gone. Completing it also creates the KB again
    from the dataset, which must come back whole: nothing the killed delete left may stand in its way."""

    name, may_be_absent = "kb-delete", True

    def prepare(self, home: Home, template: Callable[[], Path]) -> None:
        ingested(home, template)

    def start(self, home: Home) -> Run:
        return CliRun(home, "kb", "delete", KB, "--yes")

    def after_kill(self, left: dict | None, reference: dict | None) -> None:
        if left is not None and reference and left != reference:
            raise Failure(f"half deleted: the KB is still listed with {left}, whole it has {reference}")

    def complete(self, home: Home, run: Run) -> None:
        if home.kb_exists():
            home.must("kb", "delete", KB, "--yes")
            run.ended = True
        if home.kb_exists():
            raise Failure("kb delete exited 0 but the catalog still lists the KB")
        if run.ended:  # a delete that ran to its end leaves nothing behind
            left = [str(p.relative_to(home.path)) for p in (home.path / "kb").glob("*")]
            if left := left + home.engine.collections(home.tag):
                raise Failure(f"the deleted KB left {', '.join(left)}")
        home.ingest()


class Upload(Operation):
    """POST the dataset's files to `zhiku serve` as one upload job and poll it until done."""

    name = "upload"

    def prepare(self, home: Home, template: Callable[[], Path]) -> None:
        home.must("kb", "create", KB)

    def start(self, home: Home) -> Run:
        server = Server(home)
        server.documents()  # opens the KB: not timed

        def work(srv: Server, notes: dict) -> None:
            notes["job"] = srv.upload(home.data.files)
            if (job := srv.wait_job(notes["job"]))["state"] != "done":
                raise Failure(f"upload job {job['state']}: {job.get('error')}")

        return HttpRun(server, work)

    def complete(self, home: Home, run: Run) -> None:
        with home.server() as srv:
            if "job" in run.notes and (job := srv.job(run.notes["job"]))["state"] not in ("done", "failed"):
                raise Failure(f"the interrupted upload job reads {job['state']!r} after a restart")
            stray = self.stray_uploads(home)
            if stray:
                raise Failure(f"uploads/ holds {', '.join(stray)} after the kill")
            job = srv.wait_job(srv.upload(home.data.files))
            if job["state"] != "done" or job["report"].get("files_failed"):
                raise Failure(f"re-upload job {job['state']}: {job.get('error') or job['report']}")

    @staticmethod
    def stray_uploads(home: Home) -> list[str]:
        """Files under uploads/ that are not a whole copy of an uploaded file (a half-written one, a temporary)."""
        sent = {f.name: f.read_bytes() for f in home.data.files}
        found = [p for p in (home.path / "uploads").rglob("*") if p.is_file()]
        return [str(p.relative_to(home.path)) for p in found if sent.get(p.name) != p.read_bytes()]


OPS: dict[str, Operation] = {op.name: op for op in (Ingest(), DeleteDocument(), KBDelete(), Upload())}


# ---- one point ----------------------------------------------------------------------------------------------------


@dataclass
class Point:
    op: str
    engine: str
    delay: float | None  # None: the clean run
    ok: bool = False
    ended_first: bool = False  # the operation had finished before the kill came
    left: dict | None = None  # the counts the kill left (kb check clean), None: no KB
    problem: str = ""
    seconds: float = 0.0  # the clean run's duration
    counts: dict = field(default_factory=dict)


def run_point(op: Operation, home: Home, delay: float | None, reference: dict | None,
              template: Callable[[], Path]) -> Point:  # fmt: skip
    """One run of `op` in a fresh `home`: killed `delay` seconds in (None: to its end), checked, completed, judged."""
    point = Point(op.name, home.engine.name, delay)
    try:
        op.prepare(home, template)
        run = op.start(home)
        if delay is None:
            run.wait(None)
            point.seconds = time.monotonic() - run.started
            run.shutdown()
            run.result()
            run.ended = True
        else:
            point.ended_first = run.ended = run.wait(max(0.0, delay - (time.monotonic() - run.started)))
            if point.ended_first:
                run.result()
            run.kill()
        point.left = check_kb(home)
        if point.left is None and not op.may_be_absent:
            raise Failure("the knowledge base is gone")
        op.after_kill(point.left, reference)
        op.complete(home, run)
        point.counts = verdict(home, reference)
        point.ok = True
    except Failure as e:
        point.problem = str(e)
    except Exception as e:  # noqa: BLE001 - anything unexpected fails the point, with its type
        point.problem = f"{type(e).__name__}: {e}"
    return point


class Matrix:
    """Runs cells (operation x engine): a clean run, then kill points, each in a fresh home under `workdir`."""

    def __init__(self, workdir: Path, data: Dataset, engines: dict[str, Engine],
                 log: Callable[[str], None] = lambda line: print(line, flush=True)):  # fmt: skip
        self.workdir, self.data, self.engines, self.log = workdir, data, engines, log
        self._templates: dict[str, Path] = {}
        self._n = 0

    def template(self, engine: Engine) -> Path:
        """A home with the dataset ingested (embedded store only: copied for each point that starts from it)."""
        if engine.name not in self._templates:
            home = self.home(engine, "template")
            home.ingest()
            self._templates[engine.name] = home.path
        return self._templates[engine.name]

    def home(self, engine: Engine, label: str) -> Home:
        self._n += 1
        tag = f"cm{self._n}"
        return Home(self.workdir / f"{tag}-{label}", engine, tag, self.data)

    def point(self, op: str, engine: str, delay: float | None, reference: dict | None = None) -> Point:
        eng = self.engines[engine]
        home = self.home(eng, f"{op}-{engine}")
        p = run_point(OPS[op], home, delay, reference, lambda: self.template(eng))
        if p.ok:  # a failed point's home stays for a post-mortem
            shutil.rmtree(home.path, ignore_errors=True)
            with contextlib.suppress(Exception):
                eng.drop(home.tag)
        else:
            p.problem += f" [home: {home.path}]"
        when = "clean run" if delay is None else f"kill at {delay:.2f}s"
        self.log(f"{op:<16} {engine:<7} {when:<14} {'ok' if p.ok else 'FAIL'}"
                 f"{' (ended first)' if p.ended_first else ''} left {'no KB' if p.left is None else p.left}"
                 f"{' ' + p.problem if p.problem else ''}")  # fmt: skip
        return p

    def clean(self, op: str, engine: str) -> Point:
        return self.point(op, engine, None)


# ---- the command --------------------------------------------------------------------------------------------------


def milvus_available() -> bool:
    try:
        import milvus_lite  # noqa: F401
        import pymilvus  # noqa: F401
    except ImportError:
        return False
    return True


def plan(cells: list[tuple[str, str]], points: int, durations: dict, rng: random.Random) -> list[tuple[str, str, float]]:
    """`points` kill delays, dealt round-robin over the cells, each uniform in [0, that cell's clean duration]."""
    out = []
    for i in range(points):
        op, engine = cells[i % len(cells)]
        out.append((op, engine, rng.uniform(0.0, durations[op, engine])))
    return out


def left(p: Point) -> str:
    return "-" if p.left is None else str(p.left["documents"])


def left_order(p: Point) -> int:
    return -1 if p.left is None else p.left["documents"]


def table(cleans: dict, results: list[Point]) -> str:
    from rich.console import Console
    from rich.table import Table

    t = Table(title="crash matrix: kill -9, then kb check, re-run, counts, search")
    columns = ("operation", "engine", "clean run", "points", "passed", "ended before the kill",
               "documents the kills left (-: no KB)", "failures")  # fmt: skip
    for col in columns:
        t.add_column(col)
    for (op, engine), clean in cleans.items():
        mine = [p for p in results if (p.op, p.engine) == (op, engine)]
        fails = [f"{p.delay:.2f}s: {p.problem}" for p in mine if not p.ok]
        if not clean.ok:
            fails.insert(0, f"clean run: {clean.problem}")
        t.add_row(op, engine, f"{clean.seconds:.1f}s {clean.counts}", str(len(mine)), str(sum(p.ok for p in mine)),
                  str(sum(p.ended_first for p in mine)), " ".join(left(p) for p in sorted(mine, key=left_order)),
                  "\n".join(fails) or "-")  # fmt: skip
    console = Console(width=200)
    with console.capture() as cap:
        console.print(t)
    return cap.get()


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--points", type=int, default=50, help="kill points in all (dealt over operations x engines)")
    p.add_argument("--seed", type=int, default=13)
    p.add_argument("--ops", default=",".join(OPERATIONS), help=f"comma-separated: {', '.join(OPERATIONS)}")
    p.add_argument("--engines", default="local,milvus", help="local, milvus (milvus only when milvus-lite is installed)")
    p.add_argument("--data", choices=sorted(DATASETS), default="statutes")
    p.add_argument("--workdir", type=Path, default=None, help="where the homes go (default: a new temporary folder)")
    p.add_argument("--json", type=Path, default=None, help="also write every point as JSON here")
    args = p.parse_args(argv)
    ops = [o for o in args.ops.split(",") if o]
    engines = [e for e in args.engines.split(",") if e]
    if bad := [o for o in ops if o not in OPS] + [e for e in engines if e not in ENGINES]:
        p.error(f"unknown operation or engine: {', '.join(bad)}")
    if "milvus" in engines and not milvus_available():
        print("milvus: pymilvus / milvus-lite not installed, the Milvus path is skipped", file=sys.stderr)
        engines.remove("milvus")
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # unwind: the milvus-lite server stops with us
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="zhiku-crash-"))
    workdir.mkdir(parents=True, exist_ok=True)
    with contextlib.ExitStack() as stack:
        found = {"local": Engine("local")}
        if "milvus" in engines:
            found["milvus"] = Engine("milvus", stack.enter_context(milvus_lite_server(workdir / "milvus")))
        matrix = Matrix(workdir, DATASETS[args.data], found)
        cells = [(op, e) for op in ops for e in engines]
        cleans = {cell: matrix.clean(*cell) for cell in cells}
        runnable = [c for c in cells if cleans[c].ok]
        durations = {c: cleans[c].seconds for c in runnable}
        results = [matrix.point(op, e, delay, cleans[op, e].counts)
                   for op, e, delay in plan(runnable, args.points, durations, random.Random(args.seed))]  # fmt: skip
    print(table(cleans, results))
    failed = [p for p in results if not p.ok] + [c for c in cleans.values() if not c.ok]
    print(f"{len(results)} kill points, {len(results) - len(failed)} passed; homes under {workdir}")
    if args.json:
        args.json.write_text(json.dumps([p.__dict__ for p in [*cleans.values(), *results]], ensure_ascii=False, indent=1))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
