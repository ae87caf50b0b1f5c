/**
 * One validation of what a caller sends (issue 11, item 3): dbt flags
 * smuggled into select/exclude/target/paths are refused over HTTP and the
 * CLI on every runtime before dbt runs; the agent's own flags come after the
 * caller's in real dbt-core and Fusion calls; the SQLFluff templater config
 * carries the target as an escaped string; legitimate complex selectors still
 * run on real dbt.
 */
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { FusionRuntime } from "../runtimes/fusion/mod.ts";
import { callFusion, fusionArgs } from "../runtimes/fusion/call.ts";
import { newCallDirs } from "../runtimes/fusion/calls.ts";
import { detectFusion } from "../runtimes/fusion/detect.ts";
import { templaterConfig } from "../runtimes/local/lint.ts";
import { LocalRuntime } from "../runtimes/local/mod.ts";
import { Worker } from "../runtimes/local/worker.ts";
import { parseCli } from "../src/cli/args.ts";
import { createApp } from "../src/daemon/app.ts";
import { FloeDbtError } from "../src/contract/errors.ts";
import { JobRunner } from "../src/jobs/runner.ts";
import { type Job, JobRequestSchema } from "../src/jobs/schemas.ts";
import { resolveProject } from "../src/dbt/project.ts";
import type { DbtRuntime } from "../src/contract/runtime.ts";
import { selectorTokens } from "../src/dbt/validate.ts";
import { cloudSetup } from "./cloud/setup.ts";
import { copyExample, ROOT, runAgent, writeFile } from "./_helpers.ts";

const opts = { sanitizeResources: false, sanitizeOps: false };
const TOKEN = "input-validation-test-token";
const PYTHON = join(ROOT, ".venv", "dbt-core", "bin", "python");
const RUNTIMES = ["local", "fusion", "cloud"] as const;

/** Injections per field; ESC is replaced by a path that must stay absent. */
const INJECTIONS: [field: string, value: string][] = [
  ["select", "stg_orders --target-path ESC"],
  ["select", "--profiles-dir=ESC"],
  ["select", "--project-dir=ESC"],
  ["select", "stg_orders --vars {x: 1}"],
  ["select", "stg_orders --threads 64"],
  ["select", "stg_orders --full-refresh"],
  ["select", "stg_orders\n--target-path"],
  ["select", "stg_orders;rm"],
  ["exclude", "stg_orders --target-path ESC"],
  ["exclude", "--profiles-dir=ESC"],
  ["exclude", "--project-dir=ESC"],
  ["exclude", "--vars"],
  ["exclude", "--threads=64"],
  ["exclude", "--full-refresh"],
  ["target", "dev\nprofiles_dir = ESC"],
  ["target", "dev --target-path ESC"],
  ["target", "-dev"],
  ["project_dir", "PROJECT\n--target-path"],
  ["profiles_dir", "PROJECT\r\n"],
];

/** The whole offending value as the message shows it (JSON-quoted). */
function shown(field: string, value: string): string {
  if (field === "select" || field === "exclude") {
    const bad = value.split(" ").find((t) => /^-|[^\w:+.,@*?/-]/.test(t));
    // A value with a newline is refused whole; otherwise the bad token.
    return JSON.stringify(/[\n\r]/.test(value) ? value : bad);
  }
  return JSON.stringify(value);
}

async function appWith(runtimes: Record<string, DbtRuntime>, root: string) {
  const runner = await JobRunner.open({
    stateDir: join(root, "state"),
    defaultRuntime: "local",
    factory: (name) => runtimes[name]!,
    maxParallel: () => 1,
    retentionMs: 3600_000,
  });
  const app = createApp({
    runner,
    projectRoots: [root],
    token: TOKEN,
    defaultRuntime: "local",
    runtimeNames: ["local", "fusion", "cloud"],
    maxBodyBytes: 65536,
    streams: new Set(),
    // In-process requests carry no real Host: the Host check is the
    // boundary tests' business.
    boundary: {
      loopback: false,
      port: () => 0,
      allowHosts: [],
      allowOrigins: [],
      log: () => {},
    },
  });
  const post = (body: unknown) =>
    app.request("http://127.0.0.1/v1/jobs", {
      method: "POST",
      headers: {
        "content-type": "application/json",
        authorization: `Bearer ${TOKEN}`,
      },
      body: JSON.stringify(body),
    });
  return { runner, post };
}

async function finished(runner: JobRunner, id: string): Promise<Job> {
  for (let i = 0; i < 1200; i++) {
    const job = runner.list().find((j) => j.id === id)!;
    if (!["queued", "running"].includes(job.status)) return job;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`job ${id} did not finish`);
}

Deno.test(
  "HTTP: a dbt flag smuggled into any field on any runtime is a 400 naming the value, before dbt runs",
  opts,
  async () => {
    await using copy = await copyExample("floe-validate-http-");
    await using cloud = await cloudSetup();
    const esc = join(copy.dir, "escaped");
    const local = new LocalRuntime();
    const fusion = new FusionRuntime();
    const { runner, post } = await appWith(
      { local, fusion, cloud: cloud.runtime },
      copy.dir,
    );
    try {
      for (const runtime of RUNTIMES) {
        for (const [field, raw] of INJECTIONS) {
          const value = raw.replaceAll("ESC", esc).replace(
            "PROJECT",
            copy.dir,
          );
          const res = await post({
            command: "run",
            project_dir: copy.dir,
            profiles_dir: copy.dir,
            runtime,
            [field]: value,
          });
          const body = await res.json() as { code: string; message: string };
          const what = `${runtime} ${field}=${JSON.stringify(value)}`;
          assert.equal(res.status, 400, what);
          assert.equal(body.code, "FLOE-DBT-E010", what);
          assert.ok(
            body.message.includes(
              `Unsafe ${field} value ${shown(field, value)}`,
            ),
            `${what}: ${body.message}`,
          );
          assert.match(body.message, /allowed: /, what);
        }
        // The same through the list form of select/exclude.
        const res = await post({
          command: "build",
          project_dir: copy.dir,
          runtime,
          select: ["stg_orders", "--target-path", esc],
        });
        assert.equal(res.status, 400);
      }
      assert.equal(runner.list().length, 0, "no job was accepted");
      assert.equal(cloud.server.requests.length, 0, "dbt Cloud was not called");
      assert.equal(existsSync(esc), false, "dbt wrote nothing outside");
      assert.equal(existsSync(join(copy.dir, "target")), false);
      assert.equal(existsSync(join(copy.dir, ".floe", "fusion")), false);
    } finally {
      await runner.shutdown(1000);
    }
  },
);

Deno.test("CLI: a smuggled flag or a newline is exit 2 with the same message, on every runtime", async () => {
  await using copy = await copyExample("floe-validate-cli-");
  const esc = join(copy.dir, "escaped");
  const cases: string[][] = [
    ["--select", `stg_orders --target-path ${esc}`],
    ["--select=", `--profiles-dir=${esc}`],
    ["-s", "stg_orders --vars {x: 1}"],
    ["--exclude=", "--full-refresh"],
    ["--exclude", "x --threads 64"],
    ["--target", "dev\nprofiles_dir = /tmp"],
    ["--project-dir", `${copy.dir}\n`],
  ];
  for (const runtime of RUNTIMES) {
    for (const [flag, value] of cases) {
      const r = await runAgent([
        "run",
        "--runtime",
        runtime,
        "--project-dir",
        copy.dir,
        "--profiles-dir",
        copy.dir,
        // `--select=--x`: a value starting with '-' needs the = form.
        ...(flag!.endsWith("=") ? [flag + value] : [flag!, value!]),
      ]);
      const field = flag === "-s" ? "--select" : flag!.replace("=", "");
      assert.equal(r.code, 2, `${runtime} ${flag} ${value}: ${r.stderr}`);
      assert.match(r.stderr, /^FLOE-DBT-E010 Unsafe /);
      assert.ok(r.stderr.includes(`Unsafe ${field} value `), r.stderr);
      assert.ok(
        r.stderr.includes(JSON.stringify(value)) ||
          r.stderr.includes(`(in ${JSON.stringify(value)})`),
        r.stderr,
      );
    }
  }
  assert.equal(existsSync(esc), false);
  assert.equal(existsSync(join(copy.dir, "target")), false);
  assert.equal(existsSync(join(copy.dir, "logs")), false);
});

Deno.test("the runtimes refuse an unchecked selection themselves (fusion fallback and lint included)", async () => {
  await using copy = await copyExample("floe-validate-rt-");
  await using cloud = await cloudSetup();
  const ref = { projectDir: copy.dir, profilesDir: copy.dir };
  const esc = join(copy.dir, "escaped");
  const e010 = (e: unknown) =>
    e instanceof FloeDbtError && e.code === "FLOE-DBT-E010" &&
    /^Unsafe (--)?(select|exclude|target) value /.test(e.message);
  const local = new LocalRuntime();
  // A Fusion told duckdb is unsupported falls back to dbt-core.
  const fallback = new FusionRuntime({ adapters: ["snowflake"] });
  try {
    for (const rt of [local, new FusionRuntime(), fallback, cloud.runtime]) {
      await assert.rejects(
        () => rt.runModels(ref, { select: ["--target-path", esc] }),
        e010,
        rt.name,
      );
      await assert.rejects(
        () => rt.testModels(ref, { exclude: ["x", "--threads=64"] }),
        e010,
        rt.name,
      );
    }
    for (const rt of [local, new FusionRuntime()]) {
      await assert.rejects(
        () => rt.execute("build", { ...ref, target: "dev\n--x" }),
        e010,
      );
      await assert.rejects(
        () => rt.lintProject({ ...ref, target: "dev\nprofiles_dir = /" }),
        e010,
      );
      await assert.rejects(
        () => rt.lintProject(ref, { select: ["--dialect=ansi"] }),
        e010,
      );
    }
    assert.equal(existsSync(esc), false);
    assert.equal(cloud.server.requests.length, 0);
  } finally {
    await local.close();
  }
});

Deno.test("valid selectors pass the HTTP schema and the CLI unchanged", () => {
  const valid = [
    "tag:nightly",
    "+stg_orders+",
    "2+orders",
    "@orders",
    "path:models/staging",
    "config.materialized:view",
    "source:jaffle.*",
    "state:modified+",
    "stg_orders,tag:x",
    "models/staging/*.sql?",
  ];
  const req = JobRequestSchema.parse({
    command: "run",
    project_dir: "/p",
    target: "prod-eu_2",
    select: valid.join(" "),
    exclude: valid,
  });
  assert.deepEqual(req.select, valid);
  assert.deepEqual(req.exclude, valid);
  const args = parseCli(
    ["run", "-s", valid.slice(0, 5).join(" "), "--select", valid[5]!].concat(
      valid.slice(6).flatMap((v) => ["--exclude", v]),
    ),
    new Map([["HOME", "/tmp"]]),
  );
  assert.deepEqual(args.select, valid.slice(0, 6));
  assert.deepEqual(args.exclude, valid.slice(6));
});

const COMPLEX = {
  // views upstream of orders, plus the marts model with a parent within one step
  select:
    "+orders,config.materialized:view 1+orders,resource_type:model,fqn:jaffle_duck.marts.*",
  exclude: ["customers+", "path:models/staging/stg_customers.sql"],
};
const EXPECTED = [
  "model.jaffle_duck.orders",
  "model.jaffle_duck.stg_orders",
  "model.jaffle_duck.stg_payments",
];

async function executedModels(runResultsPath: string): Promise<string[]> {
  const rr = JSON.parse(await Deno.readTextFile(runResultsPath)) as {
    results: { unique_id: string; status: string }[];
  };
  assert.ok(rr.results.every((r) => r.status === "success"));
  return rr.results.map((r) => r.unique_id).sort();
}

Deno.test(
  "a complex but valid selection runs on real dbt-core over HTTP",
  opts,
  async () => {
    await using copy = await copyExample("floe-validate-run-");
    const local = new LocalRuntime();
    const { runner, post } = await appWith({ local }, copy.dir);
    try {
      const base = { project_dir: copy.dir, profiles_dir: copy.dir };
      const seed = await post({ command: "seed", ...base });
      assert.equal(seed.status, 202);
      const seeded = await finished(runner, ((await seed.json()) as Job).id);
      assert.equal(seeded.status, "succeeded", JSON.stringify(seeded.error));
      const res = await post({ command: "run", ...base, ...COMPLEX });
      assert.equal(res.status, 202, await res.clone().text());
      const job = await finished(runner, ((await res.json()) as Job).id);
      assert.equal(job.status, "succeeded", JSON.stringify(job.error));
      assert.deepEqual(
        job.request.select,
        selectorTokens(COMPLEX.select, "select"),
      );
      const result = job.result as { run_results_path: string };
      assert.deepEqual(
        await executedModels(result.run_results_path),
        EXPECTED,
      );
    } finally {
      await runner.shutdown(1000);
    }
  },
);

Deno.test(
  "a complex but valid selection runs on real Fusion (agent flags after the selection)",
  opts,
  async () => {
    await using copy = await copyExample("floe-validate-fusion-");
    const rt = new FusionRuntime();
    const ref = { projectDir: copy.dir, profilesDir: copy.dir };
    await rt.execute("seed", ref);
    const r = await rt.runModels(ref, {
      select: selectorTokens(COMPLEX.select, "select"),
      exclude: selectorTokens(COMPLEX.exclude, "exclude"),
    });
    assert.equal(r.success, true);
    assert.deepEqual(await executedModels(r.run_results_path), EXPECTED);
    await rt.close();
  },
);

Deno.test(
  "defence in depth: dbt-core's worker puts the agent's --project-dir after the caller's",
  opts,
  async () => {
    await using copy = await copyExample("floe-validate-worker-");
    const worker = await Worker.start(PYTHON);
    try {
      const res = await worker.invoke({
        command: "parse",
        common: ["--project-dir", copy.dir, "--profiles-dir", copy.dir],
        args: [
          "--project-dir",
          "/nonexistent/escaped",
          "--profiles-dir",
          "/nonexistent/escaped",
        ],
        cwd: copy.dir,
        env: {
          ...Deno.env.toObject(),
          DBT_SEND_ANONYMOUS_USAGE_STATS: "false",
        },
        fingerprint: null,
      }, () => {});
      assert.equal(res.success, true, JSON.stringify(res.exception));
      assert.ok(existsSync(join(copy.dir, "target", "manifest.json")));
    } finally {
      await worker.stop();
    }
  },
);

Deno.test(
  "defence in depth: a Fusion call puts the agent's flags after the caller's, and Fusion refuses a repeated one",
  opts,
  async () => {
    await using copy = await copyExample("floe-validate-fcall-");
    const esc = join(copy.dir, "escaped");
    const dirs = await newCallDirs(copy.dir);
    const res = await callFusion({
      bin: await detectFusion(undefined, "0.0.0"),
      command: "parse",
      project: resolveProject({ projectDir: copy.dir, profilesDir: copy.dir }),
      dirs,
      extra: ["--target-path", esc],
      killGraceMs: 1000,
    });
    // Fusion (clap) refuses a repeated option outright: the call does not run.
    assert.equal(res.code, 2);
    assert.match(
      res.stderr,
      /'--target-path <TARGET_PATH>' cannot be used multiple times/,
    );
    assert.equal(existsSync(esc), false);
    const args = fusionArgs({
      bin: { path: "dbt", version: "2" },
      command: "run",
      project: resolveProject({ projectDir: copy.dir, profilesDir: copy.dir }),
      dirs,
      extra: ["--select", "a"],
      killGraceMs: 0,
    });
    assert.deepEqual(args.slice(0, 3), ["run", "--select", "a"]);
    for (
      const flag of [
        "--project-dir",
        "--profiles-dir",
        "--target-path",
        "--log-path",
      ]
    ) {
      assert.ok(args.indexOf(flag) > 2, flag);
    }
  },
);

Deno.test("SQLFluff's templater config: a valid odd target stays a string, paths stay literal", async () => {
  const dir = await Deno.makeTempDir({ prefix: "floe-validate-cfg-" });
  try {
    const odd = join(dir, "a [x] *'#\"b");
    await Deno.mkdir(odd);
    const file = join(dir, "pyproject.toml");
    for (const target of ["none", "1", "true", "prod-eu_2"]) {
      await Deno.writeTextFile(
        file,
        templaterConfig({ projectDir: odd, profilesDir: odd, target }),
      );
      // SQLFluff's own loader reads it back.
      const out = await new Deno.Command(PYTHON, {
        args: [
          "-c",
          "import json,sys\nfrom sqlfluff.core.config.file import load_config_file_as_dict as l\nprint(json.dumps(l(sys.argv[1])))",
          file,
        ],
        stdout: "piped",
        stderr: "piped",
      }).output();
      assert.ok(out.success, new TextDecoder().decode(out.stderr));
      const cfg = JSON.parse(new TextDecoder().decode(out.stdout));
      assert.deepEqual(cfg, {
        templater: {
          dbt: { project_dir: odd, profiles_dir: odd, target },
        },
      });
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test(
  "lint with the dbt templater uses an odd but valid target exactly (default target broken)",
  opts,
  async () => {
    await using copy = await copyExample("floe-validate-lint-");
    const profiles = await Deno.readTextFile(join(copy.dir, "profiles.yml"));
    // The default target does not exist: only the caller's "none" works.
    await writeFile(
      copy.dir,
      "profiles.yml",
      profiles.replace("target: dev", "target: missing").replace(
        "    dev:",
        '    "none":',
      ),
    );
    const rt = new LocalRuntime();
    try {
      const r = await rt.lintProject(
        { projectDir: copy.dir, profilesDir: copy.dir, target: "none" },
        { select: ["models/staging"] },
      );
      // A templating failure would be a TMP finding or an E004.
      assert.deepEqual(r.issues.filter((i) => i.rule_code === "TMP"), []);
      assert.ok(
        r.issues.every((i) => i.file_path.startsWith("models/staging")),
      );
      // Control: without the target, dbt's default target is the broken one.
      const broken = await rt.lintProject(
        { projectDir: copy.dir, profilesDir: copy.dir },
        { select: ["models/staging"] },
      ).then((x) => x.issues.some((i) => i.rule_code === "TMP"), () => true);
      assert.equal(broken, true, "the broken default target is noticed");
    } finally {
      await rt.close();
    }
  },
);
