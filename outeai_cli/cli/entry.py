"""The `outeai` program: start the offline engine early when the command will need it, then
run the command."""

import sys


def main() -> None:
    from outeai_cli.offline.early import start_early

    start_early(sys.argv[1:])
    from outeai_cli.cli.app import main as run

    run()
