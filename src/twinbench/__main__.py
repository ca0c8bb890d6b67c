"""`python -m twinbench`: the same as the `twinbench` command."""

from twinbench.cli import app

if __name__ == "__main__":
    app()
