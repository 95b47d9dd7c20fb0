"""``python -m lepton_hdl``: the ``lepton-hdl`` command line."""
import sys

from .cli import main

sys.exit(main())
