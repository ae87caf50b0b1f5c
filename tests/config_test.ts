import assert from "node:assert/strict";
import {
  defaultConfig,
  parseConfig,
  readConfig,
} from "../src/config/config.ts";
import {
  checkLocalVersions,
  compareLocalVersions,
  localPython,
  missingSecrets,
  probeInstalledVersions,
  secretReferences,
} from "../src/config/config_check.ts";
import { manifestJsonSchemaText } from "../src/config/config_schema.ts";
import { FloeDbtError } from "../src/contract/errors.ts";
import { JobRunner } from "../src/jobs/runner.ts";
import { chooseRuntime } from "../src/config/runtime_choice.ts";
import { resolveSecret, secretEnvName } from "../src/config/secrets.ts";
import { checkSpec } from "../src/config/version_spec.ts";
import { probePython } from "../src/os/spawn.ts";
import { runCli } from "../src/cli/app.ts";
import { FakeRuntime } from "./_fake_runtime.ts";
import { ROOT, runAgent } from "./_helpers.ts";
import { join } from "./_path.ts";

function configError(text: string): FloeDbtError {
  try {
    parseConfig(text, "manifest.yaml");
  } catch (e) {
    assert.ok(e instanceof FloeDbtError);
    assert.equal(e.code, "FLOE-DBT-E003");
    return e;
  }
  throw new Error("expected a config error");
}

Deno.test("config: defaults to the local runtime with the documented defaults", () => {
  const c = parseConfig("plugins:\n  dbt_runtime: local\n", "m.yaml");
  assert.equal(c.plugins.dbt_runtime, "local");
  const full = parseConfig(
    "plugins:\n  dbt_runtime: local\n  dbt_runtime_config:\n    local:\n      lock_timeout_seconds: 10\n",
    "m.yaml",
  );
  assert.equal(full.plugins.dbt_runtime_config.local?.lock_timeout_seconds, 10);
  assert.equal(full.plugins.dbt_runtime_config.local?.max_invocations, 200);
});

Deno.test("config: the seeds' cloud example parses, ids become strings", () => {
  const c = parseConfig(
    `plugins:
  dbt_runtime: cloud
  dbt_runtime_config:
    cloud:
      account_id: "12345"
      api_token_ref: "dbt-cloud-api-token"
      base_url: "https://cloud.getdbt.com/api/v2"
      job_ids:
        compile: 67890
        run: 67891
        test: 67892
      poll_interval_seconds: 5
      timeout_seconds: 3600
`,
    "m.yaml",
  );
  assert.equal(c.plugins.dbt_runtime_config.cloud?.account_id, "12345");
  assert.equal(c.plugins.dbt_runtime_config.cloud?.job_ids.run, "67891");
});

Deno.test("config: cloud without its section names the key and line", () => {
  const e = configError("plugins:\n  dbt_runtime: cloud\n");
  assert.match(e.message, /manifest\.yaml:2:16/);
  assert.match(e.message, /dbt_runtime_config\.cloud is missing/);
});

Deno.test("config: an unknown runtime names the value, line and column", () => {
  const e = configError("plugins:\n  dbt_runtime: spark\n");
  assert.match(e.message, /manifest\.yaml:2:16/);
  assert.match(e.message, /plugins\.dbt_runtime/);
  assert.match(e.message, /"spark"/);
  assert.equal(e.details.line, 2);
});

Deno.test("config: a wrong type names the key path and position", () => {
  const e = configError(
    "plugins:\n  dbt_runtime: local\n  dbt_runtime_config:\n    local:\n      lock_timeout_seconds: soon\n",
  );
  assert.match(e.message, /manifest\.yaml:5:29/);
  assert.match(
    e.message,
    /plugins\.dbt_runtime_config\.local\.lock_timeout_seconds/,
  );
  assert.match(e.message, /"soon"/);
});

Deno.test("config: an unknown key (a typo) is reported with its position", () => {
  const e = configError(
    "plugins:\n  dbt_runtime: local\n  dbt_runtime_config:\n    local:\n      lock_timeout_secs: 5\n",
  );
  assert.match(e.message, /unknown key 'lock_timeout_secs'/);
  assert.match(e.message, /manifest\.yaml:5:/);
});

Deno.test("config: invalid YAML gives line and column", () => {
  const e = configError("plugins:\n  dbt_runtime: [local\n");
  assert.match(e.message, /Invalid YAML in manifest\.yaml:\d+:\d+/);
});

Deno.test("config: parallel_execution true for local is refused with the reason", () => {
  const e = configError(
    "plugins:\n  dbt_runtime_config:\n    local:\n      parallel_execution: true\n",
  );
  assert.match(e.message, /not safe to run in parallel/);
});

Deno.test("secrets: file first, then FLOE_SECRET_*, else E003 naming both places", async () => {
  const dir = await Deno.makeTempDir();
  const prevDir = Deno.env.get("FLOE_SECRETS_DIR");
  Deno.env.set("FLOE_SECRETS_DIR", dir);
  try {
    assert.equal(
      secretEnvName("dbt-cloud.token"),
      "FLOE_SECRET_DBT_CLOUD_TOKEN",
    );
    Deno.env.set("FLOE_SECRET_MY_TOKEN", "from-env");
    assert.equal(await resolveSecret("my-token"), "from-env");
    await Deno.writeTextFile(`${dir}/my-token`, "from-file\n");
    assert.equal(await resolveSecret("my-token"), "from-file");
    await assert.rejects(() => resolveSecret("absent"), (e: unknown) => {
      assert.ok(e instanceof FloeDbtError);
      assert.equal(e.code, "FLOE-DBT-E003");
      assert.ok(e.message.includes(`${dir}/absent`));
      assert.ok(e.message.includes("FLOE_SECRET_ABSENT"));
      return true;
    });
  } finally {
    Deno.env.delete("FLOE_SECRET_MY_TOKEN");
    if (prevDir) Deno.env.set("FLOE_SECRETS_DIR", prevDir);
    else Deno.env.delete("FLOE_SECRETS_DIR");
    await Deno.remove(dir, { recursive: true });
  }
});

// --- deprecated keys, versions, secrets, runtime choice, schema (issue 12) ---

Deno.test("config: fusion.rust_bindings_path is accepted with a warning naming binary_path", () => {
  const { config, warnings } = readConfig(
    "plugins:\n  dbt_runtime: local\n  dbt_runtime_config:\n    fusion:\n      rust_bindings_path: /opt/libdbt.so\n",
    "m.yaml",
  );
  assert.equal(config.plugins.dbt_runtime, "local");
  assert.equal(warnings.length, 1);
  assert.match(
    warnings[0]!,
    /^m\.yaml:5: key 'plugins\.dbt_runtime_config\.fusion\.rust_bindings_path' no longer means anything and is ignored: use 'plugins\.dbt_runtime_config\.fusion\.binary_path'/,
  );
  assert.deepEqual(
    readConfig("plugins:\n  dbt_runtime: local\n", "m.yaml").warnings,
    [],
  );
});

Deno.test("version specs: exact versions pin, operators make ranges", () => {
  assert.deepEqual(checkSpec("1.11.16", "1.11.16"), {
    kind: "pin",
    satisfied: true,
  });
  assert.deepEqual(checkSpec("1.11", "1.11.16"), {
    kind: "pin",
    satisfied: true,
  });
  assert.deepEqual(checkSpec("==1.8.*", "1.11.16"), {
    kind: "pin",
    satisfied: false,
  });
  assert.deepEqual(checkSpec("1.7.0", "1.11.16"), {
    kind: "pin",
    satisfied: false,
  });
  assert.deepEqual(checkSpec(">=1.7", "1.11.16"), {
    kind: "range",
    satisfied: true,
  });
  assert.deepEqual(checkSpec(">=1.12", "1.11.16"), {
    kind: "range",
    satisfied: false,
  });
  assert.equal(checkSpec("~=1.11", "1.11.16").satisfied, true);
  assert.equal(checkSpec("~=1.11.17", "1.11.16").satisfied, false);
  assert.equal(checkSpec(">=1.8,<2", "1.11.16").satisfied, true);
  assert.equal(checkSpec(">=1.8,<1.10", "1.11.16").satisfied, false);
  assert.equal(checkSpec("3.11", "3.11.7").satisfied, true);
  assert.throws(() => checkSpec("latest", "1.0"));
});

Deno.test("config: an unreadable dbt_version is refused at load with its line", () => {
  const e = configError(
    "plugins:\n  dbt_runtime_config:\n    local:\n      dbt_version: latest\n",
  );
  assert.match(e.message, /manifest\.yaml:4:/);
  assert.match(e.message, /local\.dbt_version/);
  assert.match(e.message, /"latest"/);
});

const INSTALLED = { dbt_version: "1.11.16", python_version: "3.11.7" };

function localVersions(dbt?: string, python?: string) {
  const lines = ["plugins:", "  dbt_runtime_config:", "    local:"];
  if (dbt) lines.push(`      dbt_version: "${dbt}"`);
  if (python) lines.push(`      python_version: "${python}"`);
  return parseConfig(lines.join("\n") + "\n", "platform.yaml");
}

Deno.test("versions: a pinned dbt_version that is not installed is E003 naming both", () => {
  const found = compareLocalVersions(
    localVersions("1.7.0"),
    INSTALLED,
    "/venv/bin/python",
  );
  assert.deepEqual(found.warnings, []);
  assert.equal(found.errors.length, 1);
  const e = found.errors[0]!;
  assert.equal(e.code, "FLOE-DBT-E003");
  assert.match(e.message, /dbt-core 1\.11\.16 is installed/);
  assert.match(e.message, /pins 1\.7\.0/);
  assert.match(e.message, /'platform\.yaml'/);
  assert.match(e.hint!, /dbt-core==1\.7\.0/);
});

Deno.test("versions: an unmet minimum only warns; a met one says nothing", () => {
  const unmet = compareLocalVersions(
    localVersions(">=1.12", ">=3.12"),
    INSTALLED,
    "/venv/bin/python",
  );
  assert.deepEqual(unmet.errors, []);
  assert.equal(unmet.warnings.length, 2);
  assert.match(unmet.warnings[0]!, /dbt-core 1\.11\.16 .* '>=1\.12'/);
  assert.match(unmet.warnings[1]!, /Python 3\.11\.7 .* '>=3\.12'/);
  const met = compareLocalVersions(
    localVersions(">=1.7", "3.11"),
    INSTALLED,
    "/venv/bin/python",
  );
  assert.deepEqual(met, { errors: [], warnings: [] });
});

Deno.test("versions: the real dbt-core environment is probed and compared", async () => {
  const config = localVersions("1.7.0");
  const python = localPython(config);
  assert.ok(python, "the dbt-core venv of scripts/setup");
  const installed = await probeInstalledVersions(python);
  assert.match(installed.dbt_version ?? "", /^1\.\d+\.\d+/);
  assert.match(installed.python_version ?? "", /^3\.\d+\.\d+/);
  await assert.rejects(() => checkLocalVersions(config), (e: unknown) => {
    assert.ok(e instanceof FloeDbtError);
    assert.equal(e.code, "FLOE-DBT-E003");
    assert.ok(e.message.includes(`dbt-core ${installed.dbt_version} is`));
    assert.match(e.message, /pins 1\.7\.0/);
    return true;
  });
  const minor = installed.dbt_version!.split(".").slice(0, 2).join(".");
  assert.deepEqual(await checkLocalVersions(localVersions(minor)), []);
  assert.equal((await checkLocalVersions(localVersions(">=99"))).length, 1);
});

Deno.test("versions: the probe runs from /: a module in the current folder cannot shadow the standard library, and no secret reaches it", async () => {
  const python = localPython(localVersions("1.7.0"));
  assert.ok(python, "the dbt-core venv of scripts/setup");
  const dir = await Deno.makeTempDir({ prefix: "floe-probe-isolated-" });
  const marker = join(dir, "shadowed");
  // A project file named like a stdlib module writes a marker when imported.
  await Deno.writeTextFile(
    join(dir, "json.py"),
    `open(${JSON.stringify(marker)}, "w").write("imported")\n`,
  );
  const cwd = Deno.cwd();
  Deno.env.set("FLOE_SECRET_PROBE", "s3cr3t-value");
  Deno.chdir(dir);
  try {
    const installed = await probeInstalledVersions(python);
    assert.match(installed.dbt_version ?? "", /^1\.\d+\.\d+/);
    const env = await probePython(
      python,
      "import os; print(os.environ.get('FLOE_SECRET_PROBE', 'absent'))",
      30_000,
    );
    assert.equal(env.stdout.trim(), "absent");
  } finally {
    Deno.chdir(cwd);
    Deno.env.delete("FLOE_SECRET_PROBE");
  }
  assert.equal(
    await Deno.lstat(marker).then(() => true, () => false),
    false,
    "json.py in the folder was not imported",
  );
  await Deno.remove(dir, { recursive: true });
});

Deno.test("secrets: every *_ref of the config is found; the missing ones are named", async () => {
  const config = parseConfig(
    `plugins:
  dbt_runtime_config:
    cloud:
      account_id: 1
      api_token_ref: cloud-token
      base_url: https://cloud.example.com
      job_ids: { run: 2 }
  lineage:
    url: http://127.0.0.1:1/api/v1/lineage
    api_key_ref: lineage-key
`,
    "m.yaml",
  );
  assert.deepEqual(secretReferences(config), [
    {
      key: "plugins.dbt_runtime_config.cloud.api_token_ref",
      ref: "cloud-token",
    },
    { key: "plugins.lineage.api_key_ref", ref: "lineage-key" },
  ]);
  const dir = await Deno.makeTempDir();
  const prev = Deno.env.get("FLOE_SECRETS_DIR");
  Deno.env.set("FLOE_SECRETS_DIR", dir);
  try {
    await Deno.writeTextFile(`${dir}/cloud-token`, "tok\n");
    assert.deepEqual(await missingSecrets(config), [{
      key: "plugins.lineage.api_key_ref",
      ref: "lineage-key",
      env: "FLOE_SECRET_LINEAGE_KEY",
    }]);
  } finally {
    if (prev) Deno.env.set("FLOE_SECRETS_DIR", prev);
    else Deno.env.delete("FLOE_SECRETS_DIR");
    await Deno.remove(dir, { recursive: true });
  }
});

const PLATFORM = "plugins:\n  dbt_runtime: local\n";

Deno.test("runtime choice: a platform config refuses another runtime, naming the file", () => {
  const config = parseConfig(PLATFORM, "/etc/floe/manifest.yaml");
  assert.equal(chooseRuntime(undefined, config), "local");
  assert.equal(chooseRuntime("local", config), "local");
  assert.throws(() => chooseRuntime("fusion", config), (e: unknown) => {
    assert.ok(e instanceof FloeDbtError);
    assert.equal(e.code, "FLOE-DBT-E003");
    assert.match(e.message, /'fusion'/);
    assert.match(e.message, /'\/etc\/floe\/manifest\.yaml' chooses 'local'/);
    assert.match(e.hint!, /allow_runtime_override: true/);
    return true;
  });
});

Deno.test("runtime choice: allow_runtime_override lets a call choose; no config chooses freely", () => {
  const allowing = parseConfig(
    "plugins:\n  dbt_runtime: local\n  allow_runtime_override: true\n",
    "manifest.yaml",
  );
  assert.equal(chooseRuntime("fusion", allowing), "fusion");
  assert.equal(chooseRuntime("cloud", defaultConfig()), "cloud");
  assert.throws(() => chooseRuntime("spark", defaultConfig()), (e: unknown) => {
    assert.ok(e instanceof FloeDbtError);
    assert.equal(e.code, "FLOE-DBT-E010");
    return true;
  });
});

Deno.test("runtime choice: the job runner refuses a job's runtime the platform does not allow", async () => {
  const dir = await Deno.makeTempDir();
  const config = parseConfig(PLATFORM, "platform.yaml");
  const fakes = {
    local: new FakeRuntime("local", false),
    fusion: new FakeRuntime("fusion", true),
    cloud: new FakeRuntime("cloud", true),
  };
  const runner = await JobRunner.open({
    stateDir: `${dir}/state`,
    defaultRuntime: "local",
    chooseRuntime: (name) => chooseRuntime(name, config),
    factory: (name) => fakes[name],
    maxParallel: () => 1,
    retentionMs: 3600_000,
  });
  try {
    await assert.rejects(
      () =>
        runner.submit({
          command: "run",
          project_dir: dir,
          runtime: "fusion",
        }),
      (e: unknown) => {
        assert.ok(e instanceof FloeDbtError);
        assert.equal(e.code, "FLOE-DBT-E003");
        assert.match(e.message, /'platform\.yaml'/);
        return true;
      },
    );
    assert.equal(runner.list().length, 0, "nothing was queued");
    const { job } = await runner.submit({ command: "run", project_dir: dir });
    assert.equal(job.runtime, "local");
  } finally {
    await runner.shutdown(5_000);
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("schema: docs/manifest.schema.json is what `deno task schemas` writes", async () => {
  const checkedIn = await Deno.readTextFile(
    join(ROOT, "docs", "manifest.schema.json"),
  );
  assert.equal(
    checkedIn,
    manifestJsonSchemaText() + "\n",
    "docs/manifest.schema.json is stale: run `deno task schemas`",
  );
  const schema = JSON.parse(checkedIn);
  const plugins = schema.properties.plugins.properties;
  assert.equal(plugins.allow_runtime_override.type, "boolean");
  const fusion = plugins.dbt_runtime_config.properties.fusion.properties;
  assert.equal(fusion.rust_bindings_path.deprecated, true);
  assert.deepEqual(plugins.dbt_runtime.enum, ["local", "fusion", "cloud"]);
});

// --- the CLI: config validate / schema, warnings, the runtime choice ---

const cliOpts = { sanitizeResources: false, sanitizeOps: false };

async function tempConfig(text: string, name = "platform.yaml") {
  const dir = await Deno.makeTempDir({ prefix: "floe-dbt-config-" });
  await Deno.writeTextFile(join(dir, name), text);
  return {
    dir,
    file: join(dir, name),
    async [Symbol.asyncDispose]() {
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    },
  };
}

/** runCli in-process with fake runtimes; records which runtime was made. */
async function cliWithFakes(argv: string[]) {
  const made: string[] = [];
  const out: string[] = [];
  const err: string[] = [];
  const code = await runCli(
    argv,
    { out: (t) => out.push(t), err: (t) => err.push(t) },
    (name) => {
      made.push(name);
      return new FakeRuntime(name, name !== "local");
    },
  );
  return { code, made, stdout: out.join("\n"), stderr: err.join("\n") };
}

Deno.test(
  "cli: config validate on REQ-091's example reports the warning, the version and the missing secret",
  cliOpts,
  async () => {
    const seed = join(
      ROOT,
      "tests",
      "testdata",
      "seeds",
      "003_0595450a4ba44d47.2.yaml",
    );
    await using secrets = await tempConfig("", "unused");
    const env = { FLOE_SECRETS_DIR: secrets.dir };
    const r = await runAgent(["config", "validate", seed], { env });
    assert.equal(r.code, 2, r.stdout + r.stderr);
    assert.match(r.stdout, /: 2 problem\(s\) \(dbt_runtime: local\)/);
    assert.match(
      r.stdout,
      /warning: .*'plugins\.dbt_runtime_config\.fusion\.rust_bindings_path' no longer means anything.*fusion\.binary_path/,
    );
    assert.match(
      r.stdout,
      /FLOE-DBT-E003 dbt-core 1\.\d+\.\d+ is installed .* pins 1\.8\.0/,
    );
    assert.match(
      r.stdout,
      /FLOE-DBT-E003 Secret reference 'dbt-cloud-api-token' \(plugins\.dbt_runtime_config\.cloud\.api_token_ref\) resolves nowhere/,
    );
    assert.match(r.stdout, /FLOE_SECRET_DBT_CLOUD_API_TOKEN/);

    // With the secret present: not reported, and its value never printed.
    const value = "s3cr3t-value-never-printed";
    const j = await runAgent(["config", "validate", seed, "--json"], {
      env: { ...env, FLOE_SECRET_DBT_CLOUD_API_TOKEN: value },
    });
    assert.equal(j.code, 2, "the pinned dbt_version still fails");
    const report = JSON.parse(j.stdout);
    assert.equal(report.valid, false);
    assert.deepEqual(report.missing_secrets, []);
    assert.equal(report.errors.length, 1);
    assert.match(report.errors[0].message, /pins 1\.8\.0/);
    assert.equal(report.warnings.length, 1);
    assert.ok(!(j.stdout + j.stderr).includes(value));
  },
);

Deno.test(
  "cli: config validate passes a config whose versions and secrets are satisfied",
  cliOpts,
  async () => {
    await using c = await tempConfig(
      `plugins:
  dbt_runtime: local
  dbt_runtime_config:
    local:
      dbt_version: ">=1.7"
      python_version: "3"
  lineage:
    url: http://127.0.0.1:1/api/v1/lineage
    api_key_ref: marquez-key
`,
    );
    await Deno.writeTextFile(join(c.dir, "marquez-key"), "k\n");
    const r = await runAgent(["config", "validate", c.file], {
      env: { FLOE_SECRETS_DIR: c.dir },
    });
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.equal(r.stdout.trim(), `${c.file}: valid (dbt_runtime: local)`);
  },
);

Deno.test(
  "cli: a pinned dbt_version stops a local run with E003 naming both versions",
  cliOpts,
  async () => {
    await using c = await tempConfig(
      'plugins:\n  dbt_runtime_config:\n    local:\n      dbt_version: "1.7.0"\n',
    );
    const r = await runAgent([
      "compile",
      "--config",
      c.file,
      "--project-dir",
      c.dir,
    ]);
    assert.equal(r.code, 2, r.stderr);
    assert.match(
      r.stderr,
      /FLOE-DBT-E003 dbt-core 1\.\d+\.\d+ is installed .* pins 1\.7\.0/,
    );
  },
);

Deno.test(
  "cli: --runtime that differs from the platform's choice is refused (given or ./manifest.yaml)",
  cliOpts,
  async () => {
    await using c = await tempConfig(PLATFORM, "manifest.yaml");
    const given = await runAgent([
      "compile",
      "--runtime",
      "fusion",
      "--config",
      c.file,
      "--project-dir",
      c.dir,
    ]);
    assert.equal(given.code, 2, given.stderr);
    assert.match(
      given.stderr,
      new RegExp(
        `FLOE-DBT-E003 Runtime 'fusion' was requested, but the platform config '${c.file}' chooses 'local'`,
      ),
    );
    const implicit = await runAgent(["run", "--runtime", "cloud", "--json"], {
      cwd: c.dir,
    });
    assert.equal(implicit.code, 2, implicit.stderr);
    assert.equal(JSON.parse(implicit.stdout).error.code, "FLOE-DBT-E003");
    assert.match(implicit.stderr, /platform config 'manifest\.yaml'/);
  },
);

Deno.test(
  "cli: allow_runtime_override lets --runtime choose; without a config it chooses freely",
  cliOpts,
  async () => {
    await using c = await tempConfig(
      "plugins:\n  dbt_runtime: local\n  allow_runtime_override: true\n",
    );
    const allowed = await cliWithFakes([
      "compile",
      "--runtime",
      "fusion",
      "--config",
      c.file,
      "--project-dir",
      c.dir,
    ]);
    assert.equal(allowed.code, 0, allowed.stderr);
    assert.deepEqual(allowed.made, ["fusion"]);
    const free = await cliWithFakes([
      "compile",
      "--runtime",
      "cloud",
      "--project-dir",
      c.dir,
    ]);
    assert.equal(free.code, 0, free.stderr);
    assert.deepEqual(free.made, ["cloud"]);
    await using refusing = await tempConfig(PLATFORM);
    const refused = await cliWithFakes([
      "compile",
      "--runtime",
      "fusion",
      "--config",
      refusing.file,
    ]);
    assert.equal(refused.code, 2);
    assert.deepEqual(refused.made, [], "no runtime was created");
  },
);

Deno.test(
  "cli: a deprecated key is a warning on stderr, the command still runs",
  cliOpts,
  async () => {
    await using c = await tempConfig(
      "plugins:\n  dbt_runtime: fusion\n  dbt_runtime_config:\n    fusion:\n      rust_bindings_path: /opt/libdbt.so\n",
    );
    const r = await cliWithFakes([
      "compile",
      "--config",
      c.file,
      "--project-dir",
      c.dir,
      "--json",
    ]);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(r.made, ["fusion"]);
    assert.match(
      r.stderr,
      /^warning: .*platform\.yaml:5: key 'plugins\.dbt_runtime_config\.fusion\.rust_bindings_path'/m,
    );
    assert.equal(JSON.parse(r.stdout).success, true, "stdout stays one JSON");
  },
);

Deno.test(
  "cli: config schema prints docs/manifest.schema.json",
  cliOpts,
  async () => {
    const r = await runAgent(["config", "schema"]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(
      r.stdout,
      await Deno.readTextFile(join(ROOT, "docs", "manifest.schema.json")),
    );
  },
);
