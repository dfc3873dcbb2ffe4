"""One chunk by id, with the full text of the article it belongs to (what a citation link opens)."""
from __future__ import annotations

import anyio
from fastapi import APIRouter, Depends

from zhiku.errors import NotFoundError
from zhiku.serve.deps import get_state, user
from zhiku.serve.state import AppState
from zhiku.types import Hit

router = APIRouter(prefix="/api/kbs", tags=["kb"])
# a long article is split by 款/项 into neighbouring chunks; none in the sample laws has more than a dozen parts
MAX_PARTS = 32


def article_parts(store, hit: Hit) -> list[Hit]:
    """The run of neighbouring chunks of one document that share `hit`'s citation ref, in order."""
    doc_id, _, ordinal = hit.chunk_id.rpartition("#")
    if not ordinal.isdigit():  # not a "<doc_id>#<ordinal>" id: the chunk is its own unit
        return [hit]
    n = int(ordinal)
    ids = [f"{doc_id}#{i}" for i in range(max(0, n - MAX_PARTS), n + MAX_PARTS + 1)]
    around = {h.chunk_id: h for h in store.get_chunks(ids)}
    parts = [hit]
    for step in (-1, 1):  # walk outwards while the neighbour is part of the same article
        i = n + step
        while (h := around.get(f"{doc_id}#{i}")) is not None and h.ref == hit.ref:
            parts.insert(0, h) if step < 0 else parts.append(h)
            i += step
    return parts


@router.get("/{name}/chunks/{chunk_id:path}")
async def get_chunk(name: str, chunk_id: str, state: AppState = Depends(get_state), _key=Depends(user)):
    def run():
        store = state.kbs.open(name).store
        found = store.get_chunks([chunk_id])
        if not found:
            raise NotFoundError(f"chunk '{chunk_id}' is not in knowledge base '{name}'")
        hit = found[0]
        parts = article_parts(store, hit)
        return {
            "kb": name, "chunk_id": hit.chunk_id, "doc_id": hit.doc_id, "ref": hit.ref, "title": hit.title,
            "meta": hit.meta, "text": hit.text, "article_text": "\n".join(p.text for p in parts),
            "part_ids": [p.chunk_id for p in parts],
        }  # fmt: skip

    return await anyio.to_thread.run_sync(run)
