from zhiku.cli import app

app()
