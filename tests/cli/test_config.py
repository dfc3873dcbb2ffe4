"""`zhiku config show`: the effective settings, credentials masked, as JSON or TOML."""
from __future__ import annotations

import json
import tomllib

from tests.cli.conftest import run
from tests.test_config import secret_laden


def test_config_show_masks_every_credential_as_json_and_toml(tmp_path, monkeypatch):
    # every string setting from the environment, as a user would set them; log_level is read by the command itself
    for path, value in secret_laden().items():
        if path != ("log_level",):
            monkeypatch.setenv("ZHIKU_" + "__".join(path).upper(), value)
    shown = run(tmp_path, "config", "show").stdout
    as_toml = run(tmp_path, "config", "show", "--toml").stdout
    assert "LEAK" not in shown and "LEAK" not in as_toml
    data = json.loads(shown)
    assert data["llm"]["api_key"] == "***" and data["llm"]["base_url"].startswith("http://***@")
    assert data["home"] == str(tmp_path)
    assert tomllib.loads(as_toml) == data  # the same settings, as a zhiku.toml would hold them
