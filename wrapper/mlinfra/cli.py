"""The mlinfra command line (placeholder until the CLI lands)."""

import typer

app = typer.Typer(help="mlinfra: a LightGBM model to production on AWS ECS behind an ALB.")


@app.command()
def version() -> None:
    """Print mlinfra's version."""
    from mlinfra import __version__

    print(__version__)


def main() -> None:
    app()
