"""Typed errors, each mapped once to a CLI exit code and an HTTP status.

Messages name what failed and where ("<file>: <reason>", "knowledge base 'x': <reason>"), so a user can act
on them without a stack trace.
"""
from __future__ import annotations


class ZhikuError(Exception):
    exit_code = 1
    http_status = 500


class ConfigError(ZhikuError):
    exit_code = 2
    http_status = 500


class InputError(ZhikuError):
    """The caller gave something unusable: bad path, bad file, bad argument."""

    exit_code = 2
    http_status = 400


class UnsupportedFileError(InputError):
    http_status = 415


class EmptyInputError(InputError):
    http_status = 422


class NotFoundError(ZhikuError):
    exit_code = 3
    http_status = 404


class KBNotFoundError(NotFoundError):
    def __init__(self, name: str, hint: str = "see `zhiku kb list`"):
        super().__init__(f"knowledge base '{name}' does not exist ({hint})")
        self.name = name


class KBExistsError(ZhikuError):
    exit_code = 2
    http_status = 409


class ProjectNotFoundError(NotFoundError):
    def __init__(self, name: str):
        super().__init__(f"writing project '{name}' does not exist (see `zhiku write list`)")
        self.name = name


class ProjectExistsError(ZhikuError):
    exit_code = 2
    http_status = 409


class PayloadTooLargeError(InputError):
    http_status = 413


class AuthError(ZhikuError):
    """Missing or unknown API key."""

    exit_code = 2
    http_status = 401


class ForbiddenError(AuthError):
    """A valid key without the scope the operation needs."""

    http_status = 403


class OverloadedError(ZhikuError):
    """The generation queue is full; the server answers at once instead of hanging (HTTP adds Retry-After)."""

    exit_code = 6
    http_status = 503


class TooManyRequestsError(OverloadedError):
    """One API key has too many requests in flight (HTTP adds Retry-After)."""

    http_status = 429


class RequestTimeoutError(ZhikuError):
    """A request ran past server.request_timeout."""

    exit_code = 6
    http_status = 504


class LockedError(ZhikuError):
    """Another process holds the write lock of a knowledge base."""

    exit_code = 4
    http_status = 423


class CorruptStoreError(ZhikuError):
    """A file zhiku cannot rebuild is damaged: a catalog, store or registry that SQLite cannot read, or a
    knowledge base that `zhiku kb check` finds inconsistent. Derived indexes (keyword, dense) never raise it:
    they are rebuilt from store.sqlite."""

    exit_code = 7
    http_status = 500


class BackendError(ZhikuError):
    """An engine (LLM server, embedding endpoint, Milvus) failed or is unreachable."""

    exit_code = 5
    http_status = 502


class ExtractionError(BackendError):
    """The model's reply to an extraction prompt stayed unusable (not JSON) after a retry: nothing was kept."""


class ModelNotFoundError(ConfigError):
    pass


class DiskFullError(ZhikuError):
    """No room left on the disk (or a file-size/quota limit) while writing: nothing half-written is kept."""

    exit_code = 8
    http_status = 507
