"""Lazy public names of a package (PEP 562): a chapter package lists what it exports and where
each name lives, and a name's module is imported on first use.

Reading a client's YAML validates each chapter's settings model, which imports the chapter's
package; with eager re-exports that loaded every analysis module and scipy, seaborn and
statsmodels into the `crm-workbook` process before the ingest could start (1.0-1.3 CPU-s of a
cold run). Importing a submodule directly (``from crmlib.diagnosis import charts``) works as
before: Python imports a submodule the package does not name.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from importlib import import_module
from typing import Any


def exports(module: str, where: Mapping[str, Iterable[str]]) -> dict[str, str]:
    """{name: module} from {module: names}, so a package lists its exports grouped by module as
    its import lines did; a name listed twice is an error (one home per public name)."""
    table: dict[str, str] = {}
    for home, names in where.items():
        for name in names:
            if name in table:
                raise ValueError(f"{module}: {name!r} is exported from both {table[name]} and {home}")
            table[name] = home
    return table


def lazy_getattr(package: str, table: Mapping[str, str], modules: Mapping[str, str] | None = None
                 ) -> Callable[[str], Any]:
    """The package's module-level __getattr__: import the name's module (relative to the package)
    on first access and keep the value in the package's namespace, so later lookups are plain.
    ``modules`` names whole modules kept elsewhere ({"predictive": "..store.ltv.predictive"}); any
    other name that is one of the package's submodules is that submodule (``st.inputs``), as it
    was when the package imported its submodules eagerly."""
    import sys
    from importlib.util import find_spec

    def __getattr__(name: str) -> Any:
        home = table.get(name)
        if home is not None:
            value = getattr(import_module(home, package), name)
        elif modules and name in modules:
            value = import_module(modules[name], package)
        elif not name.startswith("__") and find_spec(f"{package}.{name}") is not None:
            value = import_module(f"{package}.{name}")
        else:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        setattr(sys.modules[package], name, value)
        return value

    return __getattr__


def lazy_dir(package: str, table: Mapping[str, str], modules: Mapping[str, str] | None = None
             ) -> Callable[[], list[str]]:
    """The package's module-level __dir__: its names loaded so far and every lazy one, so tab
    completion and help() list the API before first use."""
    import sys

    def __dir__() -> list[str]:
        return sorted(set(vars(sys.modules[package])) | set(table) | set(modules or ()))

    return __dir__


__all__ = ["exports", "lazy_dir", "lazy_getattr"]
