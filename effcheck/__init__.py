"""effcheck: the efficiency claims of ML architecture design, measured and gated with pytest.

Importing effcheck imports no torch: records, checks and the claim catalogue are pure Python.
"""

from effcheck.checks import evaluate
from effcheck.errors import EffcheckError, MissingDependency, SchemaError, UsageError
from effcheck.records import SCHEMA_VERSION, Claim, ClaimResult, Ledger, Measurement, Verdict

# The one source of the version: pyproject.toml reads it (setuptools dynamic attr), the ledger records it.
__version__ = "0.1.0"

__all__ = [
    "SCHEMA_VERSION",
    "Claim",
    "ClaimResult",
    "EffcheckError",
    "Ledger",
    "Measurement",
    "MissingDependency",
    "SchemaError",
    "UsageError",
    "Verdict",
    "__version__",
    "evaluate",
]
