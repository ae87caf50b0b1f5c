/**
 * A daemon job's paths stay the operator's choice (issue 19, items 6 and 8),
 * over real sockets with real dbt-core, real dbt Fusion and real DuckDB: a
 * job uses its project's own profiles.yml, the `profiles_dir` it names
 * inside the roots, or `serve --profiles-dir`; never `~/.dbt` (HOME points
 * at a folder whose `.dbt/profiles.yml` would work, and its DuckDB file is
 * never made) nor `DBT_PROFILES_DIR` of the daemon. The CLI keeps dbt's usual
 * lookup. A job `state` outside the project is 400 at submit.
 *
 * @module
 */
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import type { Job } from "../src/jobs/schemas.ts";
import { type DaemonProcess, startDaemonProcess, waitJob } from "./_daemon.ts";
import { EXAMPLE, runAgent, writeFile } from "./_helpers.ts";
import { join } from "./_path.ts";

const opts = { sanitizeResources: false, sanitizeOps: false };

function profile(duckdb: string): string {
  return `jaffle_duck:
  target: dev
  outputs:
    dev:
      type: duckdb
      path: ${JSON.stringify(duckdb)}
      threads: 1
`;
}

async function copyProject(to: string): Promise<void> {
  const cp = await new Deno.Command("cp", { args: ["-r", EXAMPLE, to] })
    .output();
  assert.equal(cp.code, 0);
  for (const skip of ["target", "logs", ".floe", "profiles.yml"]) {
    await Deno.remove(join(to, skip), { recursive: true }).catch(() => {});
  }
  await writeFile(to, "models/one.sql", "select 1 as x\n");
}

/**
 * HOME with a working `.dbt/profiles.yml` (its DuckDB file: `homeDb`), a
 * project without profiles (`proj`), one whose profiles.yml links to
 * ~/.dbt (`linked`), and a profiles folder inside the roots (`shared`).
 */
async function world() {
  const dir = await Deno.makeTempDir({ prefix: "floe-profiles-" });
  const home = join(dir, "home");
  const homeDb = join(home, "home.duckdb");
  await writeFile(home, ".dbt/profiles.yml", profile(homeDb));
  const root = join(dir, "root");
  await Deno.mkdir(root);
  const proj = join(root, "proj");
  await copyProject(proj);
  const linked = join(root, "linked");
  await copyProject(linked);
  await Deno.symlink(
    join(home, ".dbt", "profiles.yml"),
    join(linked, "profiles.yml"),
  );
  const shared = join(root, "shared");
  const sharedDb = join(root, "shared.duckdb");
  await writeFile(shared, "profiles.yml", profile(sharedDb));
  return {
    dir,
    home,
    homeDb,
    root,
    proj,
    linked,
    shared,
    sharedDb,
    async [Symbol.asyncDispose]() {
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    },
  };
}

async function serve(
  w: { dir: string; root: string; home: string },
  extra: string[] = [],
  env: Record<string, string> = {},
): Promise<DaemonProcess & AsyncDisposable> {
  const d = await startDaemonProcess([
    "--project-root",
    w.root,
    "--state-dir",
    join(w.dir, `state-${crypto.randomUUID()}`),
    ...extra,
  ], { HOME: w.home, ...env });
  return Object.assign(d, {
    async [Symbol.asyncDispose]() {
      try {
        d.child.kill("SIGTERM");
      } catch {
        // already exited (a refused start)
      }
      await d.exit();
    },
  });
}

async function post(
  d: DaemonProcess,
  body: Record<string, unknown>,
): Promise<{ status: number; body: Record<string, unknown> }> {
  const r = await d.fetch("/v1/jobs", {
    method: "POST",
    body: JSON.stringify(body),
  });
  return { status: r.status, body: await r.json() };
}

async function finished(d: DaemonProcess, id: unknown): Promise<Job> {
  return await waitJob(d, String(id), ["succeeded", "failed", "cancelled"]);
}

Deno.test(
  "a daemon job never reads ~/.dbt: a project without profiles.yml is 400 E003 (local, fusion, lint; DBT_PROFILES_DIR ignored), a link to ~/.dbt too; the home target is never used",
  opts,
  async (t) => {
    await using w = await world();
    await using d = await serve(w, [], {
      DBT_PROFILES_DIR: join(w.home, ".dbt"),
    });
    assert.ok(d.url, d.logs());
    assert.match(d.logs(), /DBT_PROFILES_DIR is not used for jobs/);
    for (
      const [what, body] of [
        ["local run", { command: "run", runtime: "local" }],
        ["fusion run", { command: "run", runtime: "fusion" }],
        ["lint", { command: "lint" }],
      ] as const
    ) {
      await t.step(`${what}: refused before dbt runs`, async () => {
        const r = await post(d, { ...body, project_dir: w.proj });
        assert.equal(r.status, 400, JSON.stringify(r.body));
        assert.equal(r.body.code, "FLOE-DBT-E003");
        assert.match(
          String(r.body.message),
          /has no profiles\.yml and the request names no profiles_dir/,
        );
        assert.match(String(r.body.hint), /--profiles-dir/);
        assert.match(String(r.body.hint), /never reads ~\/\.dbt/);
      });
    }
    await t.step("a profiles.yml linked to ~/.dbt is refused", async () => {
      const r = await post(d, { command: "run", project_dir: w.linked });
      assert.equal(r.status, 400, JSON.stringify(r.body));
      assert.equal(r.body.code, "FLOE-DBT-E003");
      assert.match(String(r.body.message), /link to a file outside/);
    });
    await t.step(
      "no job was made and the home target was never used",
      async () => {
        const page = await (await d.fetch("/v1/jobs")).json() as {
          jobs: Job[];
        };
        assert.equal(page.jobs.length, 0);
        assert.equal(existsSync(w.homeDb), false);
      },
    );
    await t.step("profiles_dir inside the roots is used", async () => {
      const r = await post(d, {
        command: "run",
        project_dir: w.proj,
        profiles_dir: w.shared,
        select: "one",
      });
      assert.equal(r.status, 202, JSON.stringify(r.body));
      const job = await finished(d, r.body.id);
      assert.equal(job.status, "succeeded", JSON.stringify(job.error));
      assert.equal(existsSync(w.sharedDb), true);
      assert.equal(existsSync(w.homeDb), false);
    });
  },
);

Deno.test(
  "serve --profiles-dir ~/.dbt is the operator saying so: a job on a project without profiles then uses it (local and fusion)",
  opts,
  async () => {
    await using w = await world();
    await using d = await serve(w, ["--profiles-dir", join(w.home, ".dbt")]);
    assert.ok(d.url, d.logs());
    for (const runtime of ["local", "fusion"]) {
      await Deno.remove(w.homeDb).catch(() => {});
      const r = await post(d, {
        command: "run",
        runtime,
        project_dir: w.proj,
        select: "one",
      });
      assert.equal(r.status, 202, JSON.stringify(r.body));
      const job = await finished(d, r.body.id);
      assert.equal(job.status, "succeeded", JSON.stringify(job.error));
      assert.equal(existsSync(w.homeDb), true, runtime);
    }
    // A --profiles-dir without profiles.yml stops serve at start.
    await using bad = await serve(w, ["--profiles-dir", w.root]);
    assert.equal(bad.url, "");
    assert.equal(await bad.exit(), 2);
    assert.match(
      bad.logs(),
      /FLOE-DBT-E003 --profiles-dir '.*' holds no profiles\.yml/,
    );
  },
);

Deno.test(
  "the CLI keeps dbt's usual lookup: a project without profiles.yml uses ~/.dbt",
  opts,
  async () => {
    await using w = await world();
    const out = await runAgent(
      ["run", "--project-dir", w.proj, "-s", "one"],
      { env: { HOME: w.home } },
    );
    assert.equal(out.code, 0, out.stderr);
    assert.equal(existsSync(w.homeDb), true);
  },
);

Deno.test(
  "a job state outside the project is 400 E010 at submit (relative, absolute, a sibling under the roots); inside it is accepted",
  opts,
  async () => {
    await using w = await world();
    await using d = await serve(w);
    assert.ok(d.url, d.logs());
    const base = {
      command: "run",
      project_dir: w.proj,
      profiles_dir: w.shared,
      changed: true,
    };
    for (const state of ["../sibling", "/etc", join(w.dir, "home"), ".."]) {
      const r = await post(d, { ...base, state });
      assert.equal(r.status, 400, `${state}: ${JSON.stringify(r.body)}`);
      assert.equal(r.body.code, "FLOE-DBT-E010");
      assert.match(
        String(r.body.message),
        /^state '.*' is outside the project/,
      );
    }
    const page = await (await d.fetch("/v1/jobs")).json() as { jobs: Job[] };
    assert.equal(page.jobs.length, 0);
    // Inside: accepted; it fails at run time only for want of a manifest.
    await Deno.mkdir(join(w.proj, "prod-state"));
    const r = await post(d, { ...base, state: "prod-state" });
    assert.equal(r.status, 202, JSON.stringify(r.body));
    const job = await finished(d, r.body.id);
    assert.equal(job.status, "failed");
    assert.match(job.error!.message, /has no manifest\.json/);
  },
);
