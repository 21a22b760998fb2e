"""The generated TypeScript client as npm sees it: packed into a tarball, installed into a project, run.

Everything runs offline on the Node 22 and the TypeScript that ``make`` installs in ``tests/npm``
(their ``.bin`` leads the PATH, so the package's build script finds ``tsc`` there), with npm's
cache and logs in a folder of the test's own. The package is copied before it is packed: packing
builds ``dist/`` beside the sources, and the checked-in tree must stay as generated.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

from tests.support import ROOT

__all__ = ["NODE", "NPM_BIN", "PACKAGE", "install", "node", "npm_env", "pack"]

NPM_BIN = ROOT / "tests" / "npm" / "node_modules" / ".bin"
NODE = NPM_BIN / "node"
#: The checked-in TypeScript client, generated from openapi/.
PACKAGE = ROOT / "generated" / "typescript" / "mcp-bridge-client"
#: Bound on one npm or node run: a pack compiles the client, an install copies one tarball.
NPM_TIMEOUT = 180


def npm_env(cache: Path, **extra: str) -> dict[str, str]:
    """This process's environment with tests/npm's tools first and npm kept quiet and offline."""
    return {
        **os.environ,
        "PATH": f"{NPM_BIN}{os.pathsep}{os.environ.get('PATH', '')}",
        "npm_config_cache": str(cache),
        "npm_config_offline": "true",
        "npm_config_audit": "false",
        "npm_config_fund": "false",
        "npm_config_update_notifier": "false",
        **extra,
    }


def _npm(args: list[str], cwd: Path, cache: Path) -> subprocess.CompletedProcess[str]:
    npm = shutil.which("npm")
    assert npm, "npm is not on PATH"
    done = subprocess.run(
        [npm, *args], cwd=cwd, env=npm_env(cache), capture_output=True, text=True, timeout=NPM_TIMEOUT, check=False
    )
    assert done.returncode == 0, f"npm {' '.join(args)}:\n{done.stdout}\n{done.stderr}"
    return done


def pack(package: Path, workdir: Path) -> Path:
    """``npm pack`` a copy of ``package`` (its ``prepack`` script compiles it); the tarball's path."""
    copy = workdir / "src" / package.name
    shutil.copytree(package, copy, ignore=shutil.ignore_patterns("node_modules", "dist"))
    packed = _npm(["pack", "--json", "--pack-destination", str(workdir)], copy, workdir / "npm-cache")
    (report,) = json.loads(packed.stdout)  # the build script's banner goes to stderr
    return workdir / report["filename"]


def install(tarball: Path, project: Path) -> Path:
    """A fresh ES-module project at ``project`` with ``tarball`` installed from the file; the project."""
    project.mkdir(parents=True)
    (project / "package.json").write_text(json.dumps({"name": "guide-app", "private": True, "type": "module"}))
    _npm(["install", str(tarball)], project, project.parent / "npm-cache")
    return project


def node(script: Path, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """Run ``script`` on tests/npm's Node 22; the finished process, whatever its exit status."""
    return subprocess.run(
        [str(NODE), str(script)],
        cwd=cwd,
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=NPM_TIMEOUT,
        check=False,
    )
