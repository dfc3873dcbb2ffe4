"""`zhiku` command line: thin adapters over the layers (KnowledgeBases, Ingestor, Searcher, RagPipeline, eval,
train, serve), one module per command group. This module builds `app` (the console entry point)."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Optional

import typer

from zhiku.cli import config, ingest, kb, loadtest, models, query, serve, train, write
from zhiku.cli import eval as evaluation  # not to shadow the builtin
from zhiku.cli.common import settings
from zhiku.config import reset_settings

app = typer.Typer(help="知库 zhiku: offline RAG question answering over statutes with exact article citations.",
                  no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False)
# commands and groups in the order `zhiku --help` lists them
for command in (ingest.ingest, query.search, query.ask, query.chat, serve.serve):
    app.command()(command)
for name, group in (("kb", kb.app), ("eval", evaluation.app), ("config", config.app), ("models", models.app),
                    ("keys", serve.keys_app), ("bench", loadtest.app), ("train", train.app), ("write", write.app)):
    app.add_typer(group, name=name)


@app.callback()
def main(home: Optional[Path] = typer.Option(None, "--home", help="Data directory (overrides ZHIKU_HOME).")) -> None:
    if home is not None:
        os.environ["ZHIKU_HOME"] = str(home)
        reset_settings()
    from zhiku.log import setup_logging

    s = settings()
    setup_logging(s.log_level, s.log_json)
