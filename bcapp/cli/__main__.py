"""`python -m bcapp.cli`."""

from bcapp.cli import main

main()
