"""``python -m caitlab``: the ``caitlab`` command."""

from caitlab.cli import main

if __name__ == "__main__":
    main()
