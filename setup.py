"""Build step: the repository's guidelines/ and sandbox_image/ go into the package as genoteam/_shipped/.

Why at build time: the folders stay at the repository root (where users and docs find them) and
are not duplicated in git; wheels and sdists (hence pip, pipx, uv tool and uvx installs) carry a
copy that genoteam.shipped finds with importlib.resources. Editable installs read the checkout.
Everything else about the package is in pyproject.toml.
"""

from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

ROOT = Path(__file__).resolve().parent
SHIPPED = ("guidelines", "sandbox_image")


class BuildWithShipped(build_py):
    def run(self) -> None:
        super().run()
        if getattr(self, "editable_mode", False):
            return  # editable: genoteam.shipped falls back to the checkout's folders
        for name in SHIPPED:
            for source in sorted((ROOT / name).rglob("*")):
                if source.is_file() and "__pycache__" not in source.parts:
                    target = Path(
                        self.build_lib, "genoteam", "_shipped", name, source.relative_to(ROOT / name)
                    )
                    self.mkpath(str(target.parent))
                    self.copy_file(str(source), str(target), preserve_mode=True)


setup(cmdclass={"build_py": BuildWithShipped})
