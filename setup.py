"""Build hook: the chapter notebooks and the demo client ship inside the package.

notebooks/ and examples/ stay at the top of the repository, where consultants open them; a built
wheel carries copies as crmlib/notebooks/*.ipynb and crmlib/examples/demo.yaml, so an installed
crm-workbook renders reports without the source checkout. Everything else is in pyproject.toml.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

ROOT = Path(__file__).resolve().parent
SHIPPED = {"notebooks": "*.ipynb", "examples": "demo.yaml"}


class BuildWithNotebooks(build_py):
    """build_py that also copies notebooks/*.ipynb and examples/demo.yaml into the built package."""

    def run(self) -> None:
        super().run()
        if getattr(self, "editable_mode", False):  # an editable install reads the checkout itself
            return
        for folder, pattern in SHIPPED.items():
            target = Path(self.build_lib) / "crmlib" / folder
            target.mkdir(parents=True, exist_ok=True)
            for path in sorted((ROOT / folder).glob(pattern)):
                shutil.copy2(path, target / path.name)


setup(cmdclass={"build_py": BuildWithNotebooks})
