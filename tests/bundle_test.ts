/**
 * The shipped artifact: `deno bundle` writes one JavaScript file; copied into
 * an empty directory (no deno.json, no node_modules) and run with an empty
 * DENO_DIR and --cached-only (nothing may be fetched), it runs real dbt
 * through the local, fusion and cloud runtimes.
 *
 * Measured here (2026-11): 255 modules, 1.28 MB (the test prints the size).
 *
 * @module
 */
import assert from "node:assert/strict";
import { WORKER_PY } from "../runtimes/local/worker_py.ts";
import { copyExample, ROOT } from "./_helpers.ts";
import { join } from "./_path.ts";
import { staticExecutor } from "./cloud/executors.ts";
import { FakeDbtCloud } from "./cloud/fake_server.ts";

const opts = { sanitizeResources: false, sanitizeOps: false };
const dec = new TextDecoder();

interface RunResult {
  success: boolean;
  models_run: number;
  tests_run: number;
  failures: number;
  manifest_path: string;
  metadata: Record<string, unknown>;
}

async function listDir(dir: string): Promise<string[]> {
  const names: string[] = [];
  for await (const e of Deno.readDir(dir)) names.push(e.name);
  return names.sort();
}

Deno.test(
  "bundle: one JS file in an empty directory runs local, fusion and cloud with no node_modules",
  opts,
  async () => {
    const tmp = await Deno.makeTempDir({ prefix: "floe-bundle-" });
    await using project = await copyExample("floe-bundle-proj-");
    const cloud = new FakeDbtCloud(
      42,
      `dbtc_${crypto.randomUUID().replaceAll("-", "")}`,
      staticExecutor({}),
    );
    try {
      // 1. Bundle (offline) and copy the file alone into an empty directory.
      const built = await new Deno.Command(Deno.execPath(), {
        args: [
          "bundle",
          "--output",
          join(tmp, "build", "floe-dbt.js"),
          "main.ts",
        ],
        cwd: ROOT,
        stdout: "piped",
        stderr: "piped",
      }).output();
      assert.equal(built.code, 0, dec.decode(built.stderr));
      const app = join(tmp, "app");
      await Deno.mkdir(app);
      await Deno.copyFile(
        join(tmp, "build", "floe-dbt.js"),
        join(app, "floe-dbt.js"),
      );
      const text = await Deno.readTextFile(join(app, "floe-dbt.js"));
      const size = (await Deno.stat(join(app, "floe-dbt.js"))).size;
      console.log(`bundle size: ${size} bytes (${(size / 1e6).toFixed(2)} MB)`);
      assert.ok(size > 100_000 && size < 5_000_000, `bundle size ${size}`);
      // Every npm package is inlined: no npm:/jsr:/http imports remain.
      assert.doesNotMatch(text, /\bfrom\s*["'](npm|jsr|https?):/);
      assert.doesNotMatch(text, /\bimport\s*\(\s*["'](npm|jsr|https?):/);
      // The Python worker travels inside the bundle.
      assert.ok(text.includes("dbtRunner"), "the worker script is embedded");

      const denoDir = join(tmp, "deno-dir");
      await Deno.mkdir(denoDir);
      const env = {
        NO_COLOR: "1",
        DENO_DIR: denoDir,
        DENO_NO_UPDATE_CHECK: "1",
        // Where the bundle finds .venv/dbt-core and .venv/fusion.
        FLOE_DBT_HOME: ROOT,
        FLOE_DBT_CACHE_DIR: join(tmp, "cache"),
      };
      const agent = async (
        args: string[],
        extra: Record<string, string> = {},
      ) => {
        const out = await new Deno.Command(Deno.execPath(), {
          args: ["run", "--allow-all", "--cached-only", "floe-dbt.js", ...args],
          cwd: app,
          env: { ...env, ...extra },
          stdin: "null",
          stdout: "piped",
          stderr: "piped",
        }).output();
        return {
          code: out.code,
          stdout: dec.decode(out.stdout),
          stderr: dec.decode(out.stderr),
        };
      };

      // 2. --version
      const version = await agent(["--version"]);
      assert.equal(version.code, 0, version.stderr);
      const { version: want } = JSON.parse(
        await Deno.readTextFile(join(ROOT, "deno.json")),
      ) as { version: string };
      assert.equal(version.stdout.trim(), `floe-dbt ${want}`);

      // 3. runtimes: all three registered; local and fusion usable here.
      const rts = await agent(["runtimes", "--json"]);
      assert.equal(rts.code, 0, rts.stderr);
      const rows = JSON.parse(rts.stdout) as {
        name: string;
        available: boolean;
      }[];
      assert.deepEqual(rows.map((r) => r.name), ["local", "fusion", "cloud"]);
      assert.ok(rows.find((r) => r.name === "local")!.available);
      assert.ok(rows.find((r) => r.name === "fusion")!.available);

      // 4. build through local (real dbt-core in the warm worker).
      const build = await agent([
        "build",
        "--project-dir",
        project.dir,
        "--json",
      ]);
      assert.equal(build.code, 0, build.stderr);
      const b = JSON.parse(build.stdout) as RunResult;
      assert.equal(b.success, true);
      assert.equal(b.metadata.runtime, "local");
      assert.equal(b.models_run, 5);
      assert.equal(b.tests_run, 14);
      // The worker the bundle started is the embedded script, written out.
      const workers = (await listDir(join(tmp, "cache"))).filter((n) =>
        n.startsWith("worker-")
      );
      assert.equal(workers.length, 1);
      const py = (await listDir(join(tmp, "cache", workers[0]!))).filter((n) =>
        n.endsWith(".py")
      );
      assert.equal(
        await Deno.readTextFile(join(tmp, "cache", workers[0]!, py[0]!)),
        WORKER_PY,
      );

      // 5. compile through fusion (the real Fusion binary).
      const fusion = await agent([
        "compile",
        "--runtime",
        "fusion",
        "--project-dir",
        project.dir,
        "--json",
      ]);
      assert.equal(fusion.code, 0, fusion.stderr);
      const f = JSON.parse(fusion.stdout) as RunResult;
      assert.equal(f.success, true);
      assert.equal(f.metadata.executed_by, "fusion");
      assert.ok((await Deno.stat(f.manifest_path)).isFile);

      // 6. run through cloud against the fake dbt Cloud, which answers with
      // the artifacts of the local build above.
      const artifacts: Record<string, string> = {};
      for (const n of ["manifest.json", "run_results.json"]) {
        artifacts[n] = await Deno.readTextFile(join(project.dir, "target", n));
      }
      cloud.executor = staticExecutor(artifacts);
      cloud.jobs.set(101, ["dbt run"]);
      const ref = "bundle-cloud-token";
      await Deno.writeTextFile(
        join(tmp, "manifest.yaml"),
        `plugins:
  dbt_runtime: cloud
  dbt_runtime_config:
    cloud:
      account_id: 42
      api_token_ref: ${ref}
      base_url: ${cloud.url}
      job_ids: { run: 101 }
      poll_interval_seconds: 0.05
      max_poll_interval_seconds: 0.2
`,
      );
      const remote = await agent([
        "run",
        "--config",
        join(tmp, "manifest.yaml"),
        "--project-dir",
        project.dir,
        "--json",
      ], { FLOE_SECRET_BUNDLE_CLOUD_TOKEN: cloud.token });
      assert.equal(remote.code, 0, remote.stderr);
      const c = JSON.parse(remote.stdout) as RunResult;
      assert.equal(c.success, true);
      assert.equal(c.metadata.runtime, "cloud");
      assert.equal(c.models_run, 5);
      assert.equal(cloud.calls(/\/jobs\/101\/run\/$/, "POST").length, 1);
      assert.doesNotMatch(
        remote.stdout + remote.stderr,
        new RegExp(cloud.token),
      );

      // Nothing was installed: the empty DENO_DIR holds no npm package and
      // the app directory still holds only the bundle.
      const npm = join(denoDir, "npm");
      const npmEntries = await listDir(npm).catch(() => []);
      assert.deepEqual(npmEntries, [], "no npm package was fetched");
      assert.deepEqual(await listDir(app), ["floe-dbt.js"]);
    } finally {
      await cloud[Symbol.asyncDispose]();
      await Deno.remove(tmp, { recursive: true }).catch(() => {});
    }
  },
);
