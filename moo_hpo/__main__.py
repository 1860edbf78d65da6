"""``python -m moo_hpo``: the ``moo-hpo`` command line."""

from moo_hpo.cli import main

if __name__ == "__main__":
    main()
