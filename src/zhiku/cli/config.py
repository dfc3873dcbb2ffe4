"""`zhiku config`: the effective settings, credentials masked."""
from __future__ import annotations

import typer

from zhiku.cli.common import dump, guarded, out, settings

app = typer.Typer(help="Show the effective settings.", no_args_is_help=True)


@app.command("show")
@guarded
def config_show(as_json: bool = typer.Option(True, "--json/--toml")) -> None:
    """The effective settings (defaults < zhiku.toml < ZHIKU_* env)."""
    from zhiku.toml_writer import dumps

    data = settings().to_public_dict()
    dump(data) if as_json else out.print(dumps(data), markup=False, end="")
