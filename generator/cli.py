"""``mcp-bridge generate``: typed clients and server stubs from a spec file or a live bridge."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from generator.go_target import DEFAULT_MODULE
from generator.pipeline import Target, check, generate_files, write
from generator.problems import GenerationFailed

__all__ = ["DEFAULT_PACKAGES", "generate"]

#: Package names used when --package is not given (and for the checked-in generated/ tree).
DEFAULT_PACKAGES: dict[str, str] = {
    "python": "mcp_bridge_client",
    "typescript": "mcp-bridge-client",
    "server": "mcp_bridge_server",
    "go": DEFAULT_MODULE,
}
TARGETS: tuple[Target, ...] = ("python", "typescript", "server", "go")


def _default_spec() -> str:
    from bridge.spec import default_spec_path

    return str(default_spec_path())


@click.command(name="generate")
@click.argument("target", type=click.Choice(TARGETS), required=False)
@click.option("--spec", "source", help="Spec file (YAML or JSON) or URL, e.g. a bridge's /openapi.json.")
@click.option(
    "--out", type=click.Path(file_okay=False, path_type=Path), help="Output folder (default generated/<target>)."
)
@click.option("--package", help="Package name (default per target).")
@click.option("--module", help=f"go: the module path (default {DEFAULT_MODULE}); the package is mcpbridge.")
@click.option(
    "--check", "check_only", is_flag=True, help="Regenerate in memory; fail with a diff if the output drifted."
)
@click.option(
    "--api-key",
    envvar="MCP_BRIDGE_API_KEY",
    help="Key to fetch a --spec URL with: a key limited to some tools gets a client with only those.",
)
def generate(
    target: Target | None,
    source: str | None,
    out: Path | None,
    package: str | None,
    module: str | None,
    check_only: bool,
    api_key: str | None,
) -> None:
    if target is None and not check_only:
        raise click.UsageError("name a target (python, typescript, server, go), or pass --check")
    if module is not None and target != "go":
        raise click.UsageError("--module is for the go target")
    package = module or package
    spec = source or _default_spec()
    drift = False
    for name in [target] if target else list(TARGETS):
        folder = out or Path("generated") / name
        try:
            files, problems = generate_files(name, spec, package or DEFAULT_PACKAGES[name], api_key=api_key)
        except GenerationFailed as failed:
            for problem in failed.problems:
                click.echo(str(problem), err=True)
            count = len(failed.problems)
            raise click.ClickException(f"{name}: the spec has {count} problem(s); nothing written") from None
        for problem in problems.items:
            click.echo(str(problem), err=True)
        if check_only:
            diff = check(files, folder)
            if diff:
                drift = True
                click.echo(diff, nl=False)
                click.echo(f"{name}: {folder} differs from what the spec generates", err=True)
            else:
                click.echo(f"{name}: {folder} is up to date", err=True)
        else:
            write(files, folder)
            click.echo(f"{name}: wrote {len(files)} files to {folder}", err=True)
    if drift:
        click.echo("run `mcp-bridge generate <target>` for each target and commit the result", err=True)
        sys.exit(1)
