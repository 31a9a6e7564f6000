"""Executor benchmark entry point: the same code as `sluice bench executor`.

.venv/bin/python bench/executor.py --workload erc20 --txs 2000 [--executor both] [--json]
"""

import sys

from sluice.cli import main

if __name__ == "__main__":
    sys.exit(main(["bench", "executor", *sys.argv[1:]]))
