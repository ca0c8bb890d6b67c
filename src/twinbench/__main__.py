"""`python -m twinbench`: the same as the `twinbench` command."""

from twinbench.cli import main

if __name__ == "__main__":
    main()
