"""Run the ``pyampam`` command line: ``python -m pyampam``."""

from pyampam._cli import main

raise SystemExit(main())
