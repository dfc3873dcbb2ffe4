"""Knowledge bases over HTTP: create, list, info, delete; upload files or text (a background job); documents."""
from __future__ import annotations

import anyio
from fastapi import APIRouter, Depends, File, Form, UploadFile
from pydantic import BaseModel, ConfigDict, Field

from zhiku.errors import EmptyInputError, NotFoundError, PayloadTooLargeError
from zhiku.serve.deps import admin, get_state, user
from zhiku.serve.state import AppState
from zhiku.serve.uploads import check_supported, safe_filename, upload_ingestor

router = APIRouter(prefix="/api/kbs", tags=["kb"])


class CreateKB(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=64)
    description: str = Field("", max_length=1000)


@router.get("")
def list_kbs(state: AppState = Depends(get_state), _key=Depends(user)):
    return {"kbs": [state.kbs.info(i.name).to_dict() for i in state.kbs.list()]}


@router.post("", status_code=201)
def create_kb(req: CreateKB, state: AppState = Depends(get_state), _key=Depends(admin)):
    return state.kbs.create(req.name, req.description).to_dict()


@router.get("/{name}")
def kb_info(name: str, state: AppState = Depends(get_state), _key=Depends(user)):
    return state.kbs.info(name).to_dict()


@router.delete("/{name}")
def delete_kb(name: str, state: AppState = Depends(get_state), _key=Depends(admin)):
    state.forget(name)
    state.kbs.delete(name)  # its uploaded files too
    return {"deleted": name}


@router.get("/{name}/documents")
def documents(name: str, state: AppState = Depends(get_state), _key=Depends(user)):
    docs = state.kbs.open(name).store.documents()
    return {"kb": name, "documents": [
        {"doc_id": d.doc_id, "source": d.source, "chunks": d.chunks, "title": d.meta.get("title") or d.meta.get("law"),
         "updated_at": d.updated_at} for d in docs
    ]}  # fmt: skip


@router.delete("/{name}/documents/{doc_id:path}")
def delete_document(name: str, doc_id: str, state: AppState = Depends(get_state), _key=Depends(admin)):
    store = state.kbs.open(name).store
    if store.delete([doc_id]) == 0:
        raise NotFoundError(f"document '{doc_id}' is not in knowledge base '{name}'")
    state.uploads.release(name, doc_id, store)
    return {"deleted": doc_id}


@router.post("/{name}/documents", status_code=202)
async def upload(
    name: str,
    files: list[UploadFile] = File(default_factory=list),
    text: str = Form(""),
    replace: bool = Form(False),
    state: AppState = Depends(get_state),
    _key=Depends(admin),
):
    """Several files at once and/or pasted text (one entry per line); returns a job to poll. A different file under
    a name already uploaded to this KB is refused (409) unless `replace` is true."""
    await anyio.to_thread.run_sync(state.kbs.get, name)  # 404 before reading any upload
    if not files and not text.strip():
        raise EmptyInputError("nothing to ingest: send files (multipart field 'files') and/or 'text'")
    max_mb = state.settings.server.max_upload_mb
    limit = int(max_mb * 1024 * 1024)
    names = [safe_filename(f.filename or "") for f in files]  # never trust the client's path
    for n in names:
        check_supported(n)  # 415 for the whole request: the caller sent something we can never read
    if len(set(names)) != len(names):
        raise EmptyInputError("two uploaded files have the same name")
    with state.uploads.staging(name, replace) as stage:  # any error here: none of the files is kept
        for f, n in zip(files, names):
            data = await f.read(limit + 1)
            if len(data) > limit:
                raise PayloadTooLargeError(f"{n}: larger than {max_mb:g} MB (server.max_upload_mb)")
            await anyio.to_thread.run_sync(stage.add, n, data)
    paths, folder = stage.paths, stage.folder
    lines = [ln for ln in text.splitlines() if ln.strip()]

    def run(paths, lines, progress):
        ingestor = upload_ingestor(state.kbs.open(name), state.settings, folder)
        return ingestor.ingest(paths, lines, source="text", progress=progress).to_dict()

    job = state.jobs.submit(name, paths, lines, run)
    return job.to_dict()
