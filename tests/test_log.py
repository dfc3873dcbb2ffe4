"""Structured logging survives a swapped and closed stderr (an in-process CLI runner does exactly that)."""
from __future__ import annotations

import io
import json
import logging
import sys

from zhiku.log import setup_logging


def test_records_go_to_the_current_stderr_even_after_the_old_one_closed(monkeypatch):
    first = io.StringIO()
    monkeypatch.setattr(sys, "stderr", first)
    setup_logging("INFO", as_json=True)
    log = logging.getLogger("zhiku.test")
    log.info("one", extra={"fields": {"n": 1}})
    first.close()  # what typer's CliRunner does to its stand-in when the command returns
    second = io.StringIO()
    monkeypatch.setattr(sys, "stderr", second)
    log.info("two")
    assert json.loads(second.getvalue())["msg"] == "two"
    logging.getLogger("zhiku").handlers.clear()
