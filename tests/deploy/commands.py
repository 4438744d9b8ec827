"""Does a command line the image or a manifest names exist in this code base?

`python -m MODULE` needs an importable module with a main block (or a package with
`__main__`); uvicorn's `MODULE:ATTRIBUTE` needs the attribute. The image's python is the
only interpreter: any other program would have to be installed in the image.
"""

from __future__ import annotations

import importlib
import importlib.util
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
OUR_PACKAGES = ("workflows", "adapters", "activities", "api", "workers", "store", "simulator")
_APP = re.compile(r"(?P<module>[A-Za-z_][\w.]*):(?P<attribute>[A-Za-z_]\w*)")


def command_problem(argv: list[str]) -> str | None:
    """None when the command can run in the image, else what is wrong with it."""
    if argv[:2] != ["python", "-m"] or len(argv) < 3:
        return f"{argv}: not `python -m MODULE ...`"
    module = argv[2]
    problem = _runnable_module_problem(module)
    if problem is not None:
        return problem
    if module == "uvicorn":
        apps = [arg for arg in argv[3:] if _APP.fullmatch(arg)]
        if len(apps) != 1:
            return f"{argv}: uvicorn needs exactly one MODULE:ATTRIBUTE"
        return _attribute_problem(apps[0])
    return None


def _runnable_module_problem(module: str) -> str | None:
    spec = importlib.util.find_spec(module)
    if spec is None:
        return f"no module {module}"
    if spec.submodule_search_locations is not None:  # a package: runs its __main__
        return None if importlib.util.find_spec(f"{module}.__main__") else f"{module}: no __main__"
    if module.split(".")[0] in OUR_PACKAGES:
        source = Path(str(spec.origin)).read_text()
        if 'if __name__ == "__main__":' not in source:
            return f"{module}: no main block"
    return None


def _attribute_problem(target: str) -> str | None:
    module_name, _, attribute = target.partition(":")
    module = importlib.import_module(module_name)
    return None if hasattr(module, attribute) else f"{target}: no attribute {attribute}"
