"""Builds the web dashboard into the package when the package is built.

`pip install .` (and `pip install -e .`) run `build_dashboard`, a sub-command of setuptools'
`build`, the way Python projects with a JavaScript front end usually do it: `npm ci` when
`web/node_modules` is missing, `npm run build` (a Next.js static export into `web/out`) when
the export is older than its sources, then a copy of `web/out` into `lily_http/web/`,
in the wheel (or, for an editable install, in the source tree). Everything else is in
pyproject.toml.

Without npm (or with LILY_SKIP_WEB_BUILD=1) the dashboard is left out with a warning and the
API installs all the same; `/` then says how to build the dashboard. A build that fails when
npm is there fails the install: a broken dashboard must not ship silently."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from typing import ClassVar

from setuptools import Command, setup
from setuptools.command.build import build

ROOT = Path(__file__).resolve().parent
WEB = ROOT / "web"
EXPORT = WEB / "out"
PACKAGED = Path("lily_http") / "web"
# what the export is made from: a change to any of these makes it stale
SOURCES = (
    "app",
    "components",
    "lib",
    "public",
    "package-lock.json",
    "next.config.ts",
    "postcss.config.mjs",
    "tsconfig.json",
)


def _newest_source() -> float:
    newest = 0.0
    for name in SOURCES:
        path = WEB / name
        files = path.rglob("*") if path.is_dir() else [path] if path.exists() else []
        newest = max([newest, *(f.stat().st_mtime for f in files if f.is_file())])
    return newest


def _export_is_fresh() -> bool:
    index = EXPORT / "index.html"
    return index.is_file() and index.stat().st_mtime >= _newest_source()


class BuildDashboard(Command):
    description = "build the web dashboard (web/, Next.js) into lily_http/web"
    user_options: ClassVar[list[tuple[str, str | None, str]]] = []

    def initialize_options(self) -> None:
        self.build_lib: str | None = None
        self.editable_mode = False

    def finalize_options(self) -> None:
        self.set_undefined_options("build_py", ("build_lib", "build_lib"))

    def _target(self) -> Path:
        return ROOT / PACKAGED if self.editable_mode else Path(str(self.build_lib)) / PACKAGED

    def run(self) -> None:
        if not (WEB / "package.json").is_file():
            return  # an sdist or checkout without the web app: nothing to build
        if os.environ.get("LILY_SKIP_WEB_BUILD"):
            self.announce("LILY_SKIP_WEB_BUILD is set: the web dashboard is left out", 3)
            return
        npm = shutil.which("npm")
        if npm is None:
            self.announce(
                "warning: npm not found: Lily installs without its web dashboard "
                "(install Node.js 20+ and reinstall to add it)",
                3,
            )
            return
        if not _export_is_fresh():
            if not (WEB / "node_modules").is_dir():
                subprocess.run([npm, "ci", "--no-audit", "--no-fund"], cwd=WEB, check=True)
            subprocess.run([npm, "run", "build"], cwd=WEB, check=True)
        target = self._target()
        shutil.rmtree(target, ignore_errors=True)
        shutil.copytree(EXPORT, target)

    # setuptools asks these of build sub-commands (wheel contents, editable installs)
    def get_source_files(self) -> list[str]:
        return []

    def get_outputs(self) -> list[str]:
        target = self._target()
        return [str(f) for f in target.rglob("*") if f.is_file()] if target.is_dir() else []

    def get_output_mapping(self) -> dict[str, str]:
        return {}


build.sub_commands.append(("build_dashboard", None))

setup(cmdclass={"build_dashboard": BuildDashboard})
