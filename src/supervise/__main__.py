"""``python -m supervise``: the ``supervise`` command, run by a given interpreter."""

from supervise.cli import main

main()
