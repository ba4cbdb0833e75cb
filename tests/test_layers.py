"""The layers are a contract: the import-linter contracts in ``pyproject.toml`` hold.

Each contract is checked by ``lint-imports`` from this environment, on the package as it is in
the work tree (``docs/architecture.md`` describes the layers).
"""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CONFIG = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
CONTRACTS = [c["id"] for c in CONFIG["tool"]["importlinter"]["contracts"]]
LINT_IMPORTS = Path(sys.executable).parent / "lint-imports"


def test_the_contracts_are_the_ones_the_docs_describe() -> None:
    assert CONTRACTS == ["layers", "acyclic", "pure-core", "sqlalchemy", "client-over-http"]


@pytest.mark.parametrize("contract", [pytest.param(c, id=c) for c in CONTRACTS])
def test_contract_is_kept(contract: str) -> None:
    found = subprocess.run(
        [str(LINT_IMPORTS), "--no-cache", "--contract", contract],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert found.returncode == 0, found.stdout + found.stderr
