"""``python -m edgelib.system bench``: the runtime's benchmark (``edgelib.system.bench``)."""

import sys

from .bench import main

if __name__ == "__main__":
    if sys.argv[1:2] != ["bench"]:
        sys.exit("usage: python -m edgelib.system bench [options]  (see --help)")
    main(sys.argv[2:])
