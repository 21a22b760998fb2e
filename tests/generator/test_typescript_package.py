"""The generated TypeScript client as an npm package: ``npm pack`` ships compiled JavaScript and
declarations, the tarball installs offline into a fresh project (it has no runtime dependencies),
and the package imports from an ES module and type-checks from TypeScript."""

from __future__ import annotations

import json
import subprocess
import tarfile
from pathlib import Path

import pytest
import yaml

from tests.generator.npm import NPM_BIN, PACKAGE, install, node, npm_env, pack
from tests.support import ROOT

SPEC = ROOT / "openapi" / "openapi.yaml"
TSC = NPM_BIN / "tsc"


@pytest.fixture(scope="module")
def tarball(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return pack(PACKAGE, tmp_path_factory.mktemp("pack"))


@pytest.fixture(scope="module")
def project(tarball: Path) -> Path:
    return install(tarball, tarball.parent / "app")


def test_package_json_points_every_entry_at_the_compiled_output_and_carries_the_specs_version() -> None:
    manifest = json.loads((PACKAGE / "package.json").read_text())
    assert manifest["version"] == yaml.safe_load(SPEC.read_text())["info"]["version"]
    assert (manifest["type"], manifest["main"], manifest["types"]) == ("module", "./dist/index.js", "./dist/index.d.ts")
    assert manifest["exports"] == {
        ".": {"types": "./dist/index.d.ts", "import": "./dist/index.js", "default": "./dist/index.js"},
        "./package.json": "./package.json",
    }
    assert manifest["files"] == ["dist"]
    assert manifest["scripts"] == {"build": "tsc -p .", "prepack": "tsc -p ."}
    assert "dependencies" not in manifest
    assert list(manifest["devDependencies"]) == ["typescript"]


def test_npm_pack_ships_compiled_javascript_and_declarations_and_nothing_else(tarball: Path) -> None:
    assert tarball.name == "mcp-bridge-client-1.0.0.tgz"
    with tarfile.open(tarball) as packed:
        names = sorted(packed.getnames())
    modules = ("client", "errors", "index", "models", "webhooks")
    assert names == sorted(
        ["package/package.json"]
        + [f"package/dist/{module}.js" for module in modules]
        + [f"package/dist/{module}.d.ts" for module in modules]
    )


def test_the_tarball_installs_offline_and_imports_from_an_es_module(project: Path) -> None:
    installed = json.loads((project / "node_modules" / "mcp-bridge-client" / "package.json").read_text())
    assert installed["name"] == "mcp-bridge-client"
    assert sorted(p.name for p in (project / "node_modules").iterdir() if not p.name.startswith(".")) == [
        "mcp-bridge-client"
    ]  # nothing else came with it
    script = project / "imports.mjs"
    script.write_text(
        'import { Client, ToolError, UnprocessableContent, ProblemError } from "mcp-bridge-client";\n'
        'const client = new Client({ url: "http://127.0.0.1:9/mcp" });\n'
        "console.log(JSON.stringify({\n"
        "  base: client.http.baseUrl,\n"
        "  methods: ['listTools', 'callTool', 'getResource'].map((m) => typeof client[m]),\n"
        "  tree: Object.getPrototypeOf(ToolError) === UnprocessableContent"
        " && new ToolError(422, {}, new Headers()) instanceof ProblemError,\n"
        "}));\n"
    )
    ran = node(script, project)
    assert ran.returncode == 0, ran.stderr
    assert json.loads(ran.stdout) == {
        "base": "http://127.0.0.1:9",
        "methods": ["function", "function", "function"],
        "tree": True,
    }


TS_CONFIG = {
    "compilerOptions": {
        "target": "ES2022",
        "module": "nodenext",
        "moduleResolution": "nodenext",
        "strict": True,
        "noEmit": True,
        "skipLibCheck": False,
        "types": ["node"],
        "typeRoots": [str(NPM_BIN.parent / "@types")],
    }
}
TYPED = """\
import { Client, ToolError, type models } from "mcp-bridge-client";

const client = new Client({ url: process.env.MCP_BRIDGE_URL ?? "http://localhost:8000/mcp", apiKey: undefined });
const tools: models.Tool[] = await client.listTools();
const result: models.ToolResult = await client.callTool("process_data", { input: "test data", format: "json" });
const failure: ToolError | undefined = undefined;
console.log(tools.length, result.isError, failure);
"""


def _tsc(project: Path, source: str) -> subprocess.CompletedProcess[str]:
    (project / "main.ts").write_text(source)
    (project / "tsconfig.json").write_text(json.dumps({**TS_CONFIG, "files": ["main.ts"]}))
    return subprocess.run(
        [str(TSC), "-p", str(project)],
        env=npm_env(project / "npm-cache"),
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )


def test_typescript_checks_a_program_against_the_packages_declarations(project: Path) -> None:
    checked = _tsc(project, TYPED)
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_typescript_refuses_a_program_that_misuses_the_packages_types(project: Path) -> None:
    misused = TYPED + "const wrong: number = await client.listServers();\n"
    checked = _tsc(project, misused)
    assert checked.returncode != 0
    assert "main.ts(8,7): error TS2322: Type 'ServerInfo[]' is not assignable to type 'number'." in checked.stdout
