"""The floe ``DBTPlugin`` interface (ADR-0043, REQ-086) and ``AgentDBTPlugin``,
which implements it on the floe-dbt agent: over the daemon when one answers,
else by running the agent's CLI with ``--json``.

Entry points (group ``floe.dbt``): ``local``, ``fusion`` and ``cloud``.
"""

import json
import os
import shlex
import shutil
import subprocess
from abc import ABC, abstractmethod
from pathlib import Path
from typing import Any

from .client import FloeDbtClient
from .errors import DBTExecutionError, FloeDbtError, error_from_body
from .models import DBTRunResult, ProjectLintResult, parse_result

__all__ = [
    "DBTPlugin",
    "AgentDBTPlugin",
    "LocalAgentDBTPlugin",
    "FusionAgentDBTPlugin",
    "CloudAgentDBTPlugin",
    "agent_command",
    "FLOE_API_VERSION",
]

FLOE_API_VERSION = "1.0"
"""The floe plugin API version this package implements."""

LintResult = ProjectLintResult


class DBTPlugin(ABC):
    """Interface for dbt compilation environment plugins (seeds: ADR-0043).

    Responsibilities: compile dbt projects (Jinja -> SQL), execute dbt
    commands (run, test), provide SQL linting (optional, dialect-aware).
    The plugin chooses WHERE dbt executes (local, cloud, fusion), not the SQL
    transformation framework itself.
    """

    name: str
    version: str
    floe_api_version: str

    @abstractmethod
    def compile_project(self, project_dir: Path, profiles_dir: Path, target: str) -> Path:
        """Compile the dbt project and return the path to manifest.json.

        Raises:
            DBTCompilationError: if dbt compilation fails.
        """

    @abstractmethod
    def run_models(
        self,
        project_dir: Path,
        profiles_dir: Path,
        target: str,
        select: str | None = None,
        exclude: str | None = None,
        full_refresh: bool = False,
    ) -> DBTRunResult:
        """Execute dbt models; a DBTRunResult with success and model counts."""

    @abstractmethod
    def test_models(
        self,
        project_dir: Path,
        profiles_dir: Path,
        target: str,
        select: str | None = None,
    ) -> DBTRunResult:
        """Execute dbt tests; a DBTRunResult with pass/fail and test counts."""

    @abstractmethod
    def lint_project(
        self,
        project_dir: Path,
        profiles_dir: Path,
        target: str,
        fix: bool = False,
    ) -> LintResult:
        """Lint SQL files with dialect-aware validation.

        Raises:
            DBTLintError: if the linting process fails (not if SQL has issues).
        """

    @abstractmethod
    def get_manifest(self, project_dir: Path) -> dict[str, Any]:
        """Retrieve dbt manifest.json (filesystem or API)."""

    @abstractmethod
    def get_run_results(self, project_dir: Path) -> dict[str, Any]:
        """Retrieve dbt run_results.json."""

    @abstractmethod
    def supports_parallel_execution(self) -> bool:
        """Indicate whether the runtime supports parallel execution."""

    @abstractmethod
    def supports_sql_linting(self) -> bool:
        """Indicate whether this compilation environment provides SQL linting."""

    @abstractmethod
    def get_runtime_metadata(self) -> dict[str, Any]:
        """Return runtime-specific metadata for observability."""

    def run_tests(
        self,
        project_dir: Path,
        profiles_dir: Path,
        target: str,
        select: str | None = None,
    ) -> DBTRunResult:
        """ADR-0043's name for :meth:`test_models`."""
        return self.test_models(project_dir, profiles_dir, target, select)


def _repo_main() -> Path | None:
    here = Path(__file__).resolve()
    for parent in here.parents:
        if (parent / "main.ts").is_file() and (parent / "deno.json").is_file():
            return parent / "main.ts"
    return None


def agent_command() -> list[str]:
    """The command that runs the agent's CLI: ``FLOE_DBT_BIN`` (a command line),
    else ``floe-dbt`` on PATH, else Deno with the bundled ``dist/floe-dbt.js``
    or the checkout's ``main.ts``."""
    env = os.environ.get("FLOE_DBT_BIN")
    if env:
        return shlex.split(env)
    on_path = shutil.which("floe-dbt")
    if on_path:
        return [on_path]
    main = _repo_main()
    deno = os.environ.get("DENO") or shutil.which("deno")
    if deno is None and main is not None and (main.parent / ".tools" / "deno").exists():
        deno = str(main.parent / ".tools" / "deno")
    if deno and main is not None:
        bundle = main.parent / "dist" / "floe-dbt.js"
        target = bundle if bundle.is_file() else main
        return [deno, "run", "--allow-all", "--quiet", str(target)]
    raise FloeDbtError(
        "Cannot find the floe-dbt agent's CLI",
        code="FLOE-DBT-E003",
        hint="set FLOE_DBT_BIN to the command (e.g. 'deno run -A /path/floe-dbt.js'), "
        "or start the daemon and pass its url",
    )


class AgentDBTPlugin(DBTPlugin):
    """The DBTPlugin on the floe-dbt agent, for one runtime (local, fusion, cloud).

    ``url``: the daemon (default: ``FLOE_DBT_URL`` or the local default). When
    it answers ``/healthz`` the plugin submits jobs there; otherwise it runs the
    agent's CLI (see :func:`agent_command`). ``config`` keys: ``token``,
    ``mode`` (``auto``, ``daemon`` or ``cli``), ``timeout`` (seconds per
    command), ``agent_config`` (a platform manifest.yaml for the CLI path),
    ``env`` (extra environment for the CLI).
    """

    version = "0.1.0"
    floe_api_version = FLOE_API_VERSION

    def __init__(self, runtime: str = "local", url: str | None = None, config: dict[str, Any] | None = None):
        if runtime not in ("local", "fusion", "cloud"):
            raise FloeDbtError(
                f"Unknown runtime '{runtime}'",
                code="FLOE-DBT-E010",
                hint="use local, fusion or cloud",
            )
        self.name = runtime
        self.runtime = runtime
        self.config = dict(config or {})
        self.timeout: float | None = self.config.get("timeout")
        mode = self.config.get("mode", "auto")
        self._client = FloeDbtClient(url, token=self.config.get("token"), retries=2)
        if mode == "cli":
            self.mode = "cli"
        elif mode == "daemon" or self._client.healthy():
            self.mode = "daemon"
        else:
            self.mode = "cli"

    # --- the two paths ------------------------------------------------------
    def _cli(self, args: list[str]) -> Any:
        cmd = [*agent_command(), *args, "--runtime", self.runtime, "--json", "--quiet"]
        if self.config.get("agent_config"):
            cmd += ["--config", str(self.config["agent_config"])]
        env = {**os.environ, "NO_COLOR": "1", **self.config.get("env", {})}
        proc = subprocess.run(
            cmd, capture_output=True, text=True, env=env, timeout=self.timeout, check=False
        )
        out = proc.stdout.strip().splitlines()
        try:
            data = json.loads(out[-1]) if out else None
        except json.JSONDecodeError:
            data = None
        if isinstance(data, dict) and "error" in data and isinstance(data["error"], dict):
            raise error_from_body(data["error"])
        if data is None:
            raise DBTExecutionError(
                f"The agent's CLI exited {proc.returncode} without a JSON answer: "
                f"{proc.stderr.strip()[-500:]}",
                hint=f"run it by hand: {shlex.join(cmd)}",
            )
        return data

    @staticmethod
    def _project_args(project_dir: Path, profiles_dir: Path | None, target: str | None) -> list[str]:
        args = ["--project-dir", str(project_dir)]
        if profiles_dir is not None:
            args += ["--profiles-dir", str(profiles_dir)]
        if target:
            args += ["--target", target]
        return args

    def _execute(
        self,
        command: str,
        project_dir: Path,
        profiles_dir: Path | None,
        target: str | None,
        select: str | None = None,
        exclude: str | None = None,
        full_refresh: bool = False,
        fix: bool = False,
    ) -> DBTRunResult | ProjectLintResult:
        if self.runtime == "cloud":
            # dbt Cloud runs with its environment's connection: the agent
            # refuses a local profiles.yml for it (FLOE-DBT-E010), so the
            # seeds' required profiles_dir argument is not passed on.
            profiles_dir = None
        if self.mode == "daemon":
            try:
                return self._client.run(
                    command,
                    Path(project_dir).resolve(),
                    profiles_dir=Path(profiles_dir).resolve() if profiles_dir else None,
                    target=target,
                    select=select,
                    exclude=exclude,
                    full_refresh=full_refresh,
                    fix=fix,
                    runtime=self.runtime,
                    timeout=self.timeout,
                )
            except DBTExecutionError as e:
                # Model or test failures: the run result is the answer.
                if isinstance(e.result, DBTRunResult):
                    return e.result
                raise
        args = [command, *self._project_args(project_dir, profiles_dir, target)]
        if select:
            args += ["--select", select]
        if exclude:
            args += ["--exclude", exclude]
        if full_refresh:
            args.append("--full-refresh")
        if fix:
            args.append("--fix")
        return parse_result(self._cli(args))

    # --- DBTPlugin ------------------------------------------------------------
    def compile_project(self, project_dir: Path, profiles_dir: Path, target: str) -> Path:
        """Compile the project; the path to its manifest.json."""
        result = self._execute("compile", project_dir, profiles_dir, target)
        assert isinstance(result, DBTRunResult)
        if not result.success:
            from .errors import DBTCompilationError

            raise DBTCompilationError(
                f"dbt compile of '{project_dir}' failed: {result.metadata.get('errors')}",
                hint="see the project's target/run_results.json",
            )
        return Path(result.manifest_path)

    def run_models(
        self,
        project_dir: Path,
        profiles_dir: Path,
        target: str,
        select: str | None = None,
        exclude: str | None = None,
        full_refresh: bool = False,
    ) -> DBTRunResult:
        """``dbt run`` through the agent (model failures: ``success`` is False)."""
        result = self._execute(
            "run", project_dir, profiles_dir, target, select, exclude, full_refresh
        )
        assert isinstance(result, DBTRunResult)
        return result

    def test_models(
        self,
        project_dir: Path,
        profiles_dir: Path,
        target: str,
        select: str | None = None,
    ) -> DBTRunResult:
        """``dbt test`` through the agent (failing tests: ``success`` is False)."""
        result = self._execute("test", project_dir, profiles_dir, target, select)
        assert isinstance(result, DBTRunResult)
        return result

    def lint_project(
        self,
        project_dir: Path,
        profiles_dir: Path,
        target: str,
        fix: bool = False,
    ) -> LintResult:
        """Lint the project's SQL (SQLFluff on local, Fusion's analysis on fusion)."""
        result = self._execute("lint", project_dir, profiles_dir, target, fix=fix)
        assert isinstance(result, ProjectLintResult)
        return result

    def get_manifest(self, project_dir: Path) -> dict[str, Any]:
        """The project's manifest.json (compiled on demand by the agent)."""
        if self.mode == "daemon":
            return self._client.manifest(Path(project_dir).resolve(), runtime=self.runtime)
        return self._cli(["manifest", *self._project_args(project_dir, None, None)])

    def get_run_results(self, project_dir: Path) -> dict[str, Any]:
        """The project's latest run_results.json."""
        if self.mode == "daemon":
            return self._client.run_results(Path(project_dir).resolve(), runtime=self.runtime)
        return self._cli(["run-results", *self._project_args(project_dir, None, None)])

    def _runtime_row(self, fresh: bool = True) -> dict[str, Any]:
        if not fresh and getattr(self, "_row", None):
            return self._row
        rows = self._client.runtimes() if self.mode == "daemon" else self._cli(["runtimes"])
        for row in rows:
            if row.get("name") == self.runtime:
                self._row: dict[str, Any] = row
                return row
        raise FloeDbtError(f"The agent has no runtime '{self.runtime}'", code="FLOE-DBT-E003")

    def supports_parallel_execution(self) -> bool:
        """Whether the runtime runs commands in parallel (fusion, cloud: yes)."""
        return bool(self._runtime_row(fresh=False).get("supports_parallel_execution"))

    def supports_sql_linting(self) -> bool:
        """Whether ``lint_project`` works on this runtime."""
        return bool(self._runtime_row(fresh=False).get("supports_sql_linting"))

    def get_runtime_metadata(self) -> dict[str, Any]:
        """The runtime's metadata (type, versions, worker state), plus how it is reached."""
        row = self._runtime_row()
        meta = dict(row.get("metadata") or {"type": self.runtime})
        meta.setdefault("type", self.runtime)
        meta["available"] = row.get("available")
        meta["via"] = "daemon" if self.mode == "daemon" else "cli"
        if self.mode == "daemon":
            meta["agent_url"] = self._client.url
        return meta


class LocalAgentDBTPlugin(AgentDBTPlugin):
    """Entry point ``floe.dbt:local``: dbt-core through the agent."""

    def __init__(self, url: str | None = None, config: dict[str, Any] | None = None):
        super().__init__("local", url, config)


class FusionAgentDBTPlugin(AgentDBTPlugin):
    """Entry point ``floe.dbt:fusion``: dbt Fusion through the agent."""

    def __init__(self, url: str | None = None, config: dict[str, Any] | None = None):
        super().__init__("fusion", url, config)


class CloudAgentDBTPlugin(AgentDBTPlugin):
    """Entry point ``floe.dbt:cloud``: dbt Cloud (Admin API v2) through the agent."""

    def __init__(self, url: str | None = None, config: dict[str, Any] | None = None):
        super().__init__("cloud", url, config)
