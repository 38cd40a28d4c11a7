"""``python -m cocapp.synthetic``: see :func:`cocapp.synthetic.main`."""

from cocapp.synthetic import main

raise SystemExit(main())
