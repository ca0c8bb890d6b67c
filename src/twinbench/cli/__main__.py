"""`python -m twinbench.cli`: the same as the `twinbench` command."""

from twinbench.cli import main

main()
