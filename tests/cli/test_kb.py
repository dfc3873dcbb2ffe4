"""`zhiku kb`."""
from __future__ import annotations

import json

from tests.cli.conftest import run


def test_kb_lifecycle(tmp_path):
    run(tmp_path, "kb", "create", "x", "-d", "demo")
    listed = json.loads(run(tmp_path, "kb", "list", "--json").stdout)
    assert [k["name"] for k in listed] == ["x"] and listed[0]["stats"]["chunks"] == 0
    p = run(tmp_path, "kb", "create", "x", check=2)
    assert p.stderr.strip() == "error: knowledge base 'x' already exists"
    p = run(tmp_path, "kb", "delete", "x", check=2)  # no terminal, no --yes
    assert "without --yes" in p.stderr
    run(tmp_path, "kb", "delete", "x", "--yes")
    assert json.loads(run(tmp_path, "kb", "list", "--json").stdout) == []
