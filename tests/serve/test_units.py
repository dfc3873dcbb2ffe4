"""Fast checks without a server: the admission gate, file-name sanitising, key hashing."""
from __future__ import annotations

import asyncio

import pytest

from zhiku.errors import AuthError, ForbiddenError, InputError, OverloadedError, UnsupportedFileError


def test_gate_bounds_waiting_and_frees_on_close():
    from zhiku.serve.generation import GenerationGate
    from zhiku.serve.metrics import Metrics

    async def scenario():
        gate = GenerationGate(slots=1, max_queue=1, timeout=5, metrics=Metrics())
        a, b = gate.admit(), gate.admit()  # a burst: both admitted before either runs
        with pytest.raises(OverloadedError):
            gate.admit()
        await a.acquire()
        assert gate.busy and gate.waiting == 1
        b.close()  # a waiting client that went away gives its place back
        c = gate.admit()
        a.close()
        a.close()  # idempotent
        await c.acquire()
        assert gate.busy and gate.waiting == 0
        c.close()
        assert not gate.busy

    asyncio.run(scenario())


def test_gate_times_out_waiting():
    from zhiku.errors import RequestTimeoutError
    from zhiku.serve.generation import GenerationGate
    from zhiku.serve.metrics import Metrics

    async def scenario():
        gate = GenerationGate(slots=1, max_queue=2, timeout=0.2, metrics=Metrics())
        a, b = gate.admit(), gate.admit()
        await a.acquire()
        with pytest.raises(RequestTimeoutError):
            await b.acquire()
        b.close()
        a.close()
        assert gate.waiting == 0 and not gate.busy

    asyncio.run(scenario())


def test_gate_remote_slots_and_key_limit():
    """Several slots run at once (a remote backend); one key is held to key_concurrency with 429."""
    from zhiku.errors import TooManyRequestsError
    from zhiku.serve.generation import GenerationGate
    from zhiku.serve.metrics import Metrics

    async def scenario():
        gate = GenerationGate(slots=3, max_queue=1, timeout=5, metrics=Metrics(), key_concurrency=2, retrieval_threads=4)
        a, b = gate.admit("k1"), gate.admit("k1")
        with pytest.raises(TooManyRequestsError):
            gate.admit("k1")
        c, d = gate.admit("k2"), gate.admit(None)
        for t in (a, b, c):
            await t.acquire()
        assert gate.running == 3 and gate.waiting == 1
        with pytest.raises(OverloadedError) as e:  # 3 running + 1 waiting: full
            gate.admit("k3")
        assert not isinstance(e.value, TooManyRequestsError)
        a.close()
        gate.admit("k1").close()  # k1 is back under its limit; closing a waiting ticket frees its place
        await d.acquire()
        for t in (b, c, d):
            t.close()
        assert gate.running == gate.waiting == gate.pending == 0 and not gate._per_key

    asyncio.run(scenario())


def test_gate_bounds_expected_retrieval_wait():
    """Many remote slots, but a question is refused once its expected wait for retrieval passes the bound."""
    from zhiku.serve.generation import GenerationGate
    from zhiku.serve.metrics import Metrics

    async def scenario():
        gate = GenerationGate(slots=50, max_queue=1, timeout=5, metrics=Metrics(), retrieval_threads=2,
                              retrieval_wait=0.25)  # fmt: skip
        gate.retrieval_s = 0.1  # 2 threads, 0.1 s each: 5 pending = 0.25 s of backlog
        tickets = [gate.admit() for _ in range(6)]
        with pytest.raises(OverloadedError, match="retrieval"):
            gate.admit()
        for t in tickets:
            await t.acquire()
        tickets[0].retrieval_done(0.02)  # past retrieval, and fast: the estimate drops
        assert gate.retrieval_s < 0.1 and gate.pending == 5
        tickets.append(gate.admit())
        for t in tickets:
            t.close()
        assert gate.pending == gate.running == gate.waiting == 0
        # one slot (llama.cpp), taken: requests wait for the model, the waiting room alone bounds them
        one = GenerationGate(slots=1, max_queue=4, timeout=5, metrics=Metrics(), retrieval_threads=2)
        one.retrieval_s = 1.0
        first = one.admit()
        await first.acquire()
        queued = [one.admit() for _ in range(4)]
        with pytest.raises(OverloadedError, match="waiting"):
            one.admit()
        for t in [first, *queued]:
            t.close()

    asyncio.run(scenario())


@pytest.mark.parametrize("raw, safe", [
    ("../../etc/passwd.md", "passwd.md"), ("C:\\Users\\x\\劳动法.txt", "劳动法.txt"), ("a b;rm -rf.md", "a_b_rm_-rf.md"),
    (".hidden.txt", "hidden.txt"),
])  # fmt: skip
def test_safe_filename(raw, safe):
    from zhiku.serve.uploads import safe_filename

    assert safe_filename(raw) == safe


def test_safe_filename_rejects_empty_and_unsupported():
    from zhiku.serve.uploads import check_supported, safe_filename

    with pytest.raises(InputError):
        safe_filename("../..")
    with pytest.raises(UnsupportedFileError):
        check_supported("x.exe")


def test_keys_hashed_scoped_revocable(tmp_path):
    from zhiku.serve.auth import KeyStore, check_scope

    ks = KeyStore(tmp_path)
    info, token = ks.create("user", "u")
    assert token.split("_", 2)[2] not in (tmp_path / "keys.sqlite").read_bytes().decode("latin-1")
    assert ks.verify(token).scope == "user"
    with pytest.raises(ForbiddenError):
        check_scope(ks.verify(token), "admin")
    with pytest.raises(AuthError):
        ks.verify(token[:-1] + ("x" if token[-1] != "x" else "y"))
    ks.revoke(info.id)
    with pytest.raises(AuthError):
        ks.verify(token)
    assert not ks.has_keys()
    with pytest.raises(InputError):
        ks.create("root")
