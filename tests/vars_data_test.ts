/**
 * A job's vars are data (issue 19, item 1), over real sockets with real
 * dbt-core, real dbt Fusion and real DuckDB: dbt renders a var's text as
 * Jinja, so a Jinja delimiter anywhere in the vars is refused at submit
 * (400 FLOE-DBT-E010 naming the key) and no `run_query` payload writes or
 * reads a file; vars nested 2000 deep or too big are refused the same way;
 * plain vars still reach the model. A daemon started with
 * `--allow-jinja-vars` does render them (the same payloads then write and
 * read), which shows the refusals are what stops them. The CLI refuses
 * Jinja in `--vars` unless given `--allow-jinja-vars`.
 *
 * @module
 */
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { FusionRuntime } from "../runtimes/fusion/mod.ts";
import { LocalRuntime } from "../runtimes/local/mod.ts";
import { FloeDbtError } from "../src/contract/errors.ts";
import type { Job } from "../src/jobs/schemas.ts";
import { type DaemonProcess, startDaemonProcess, waitJob } from "./_daemon.ts";
import { EXAMPLE, ROOT, runAgent, writeFile } from "./_helpers.ts";
import { join } from "./_path.ts";

const opts = { sanitizeResources: false, sanitizeOps: false };
const PYTHON = join(ROOT, ".venv", "dbt-core", "bin", "python");
const RUNTIMES = ["local", "fusion"] as const;
const SECRET = "TOP-SECRET-d41d8cd98f00";

/** A root with a copy of the example plus a model that uses var("day"). */
async function world(): Promise<{
  dir: string;
  proj: string;
  outside: string;
  [Symbol.asyncDispose](): Promise<void>;
}> {
  const dir = await Deno.makeTempDir({ prefix: "floe-vars-" });
  const proj = join(dir, "root", "proj");
  await Deno.mkdir(join(dir, "root"));
  const cp = await new Deno.Command("cp", { args: ["-r", EXAMPLE, proj] })
    .output();
  assert.equal(cp.code, 0);
  for (const skip of ["target", "logs", ".floe"]) {
    await Deno.remove(join(proj, skip), { recursive: true }).catch(() => {});
  }
  await writeFile(
    proj,
    "models/with_day.sql",
    "{{ config(materialized='table') }}\nselect '{{ var(\"day\", \"none\") }}' as day\n",
  );
  const outside = join(dir, "outside");
  await Deno.mkdir(outside);
  await Deno.writeTextFile(join(outside, "secret.txt"), SECRET);
  return {
    dir,
    proj,
    outside,
    async [Symbol.asyncDispose]() {
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    },
  };
}

async function serve(
  dir: string,
  extra: string[] = [],
): Promise<DaemonProcess & AsyncDisposable> {
  const d = await startDaemonProcess([
    "--project-root",
    join(dir, "root"),
    "--state-dir",
    join(dir, `state${extra.length ? "-allow" : ""}`),
    ...extra,
  ]);
  assert.ok(d.url, d.logs());
  return Object.assign(d, {
    async [Symbol.asyncDispose]() {
      d.child.kill("SIGTERM");
      await d.exit();
    },
  });
}

async function post(
  d: DaemonProcess,
  body: unknown,
): Promise<{ status: number; body: Record<string, unknown> }> {
  const r = await d.fetch("/v1/jobs", {
    method: "POST",
    body: typeof body === "string" ? body : JSON.stringify(body),
  });
  return { status: r.status, body: await r.json() };
}

/** The refusal of `vars`: 400 E010 whose message names `key`. */
async function refused(
  d: DaemonProcess,
  body: Record<string, unknown>,
  key: RegExp,
): Promise<string> {
  const r = await post(d, body);
  assert.equal(r.status, 400, JSON.stringify(r.body));
  assert.equal(r.body.code, "FLOE-DBT-E010");
  assert.match(String(r.body.message), key);
  return String(r.body.message);
}

async function run(
  d: DaemonProcess,
  body: Record<string, unknown>,
): Promise<Job> {
  const r = await post(d, body);
  assert.equal(r.status, 202, JSON.stringify(r.body));
  return await waitJob(d, String(r.body.id), [
    "succeeded",
    "failed",
    "cancelled",
  ]);
}

async function jobCount(d: DaemonProcess): Promise<number> {
  const page = await (await d.fetch("/v1/jobs")).json() as { jobs: Job[] };
  return page.jobs.length;
}

/** `select day from with_day` in the project's DuckDB file. */
async function day(proj: string): Promise<string> {
  const out = await new Deno.Command(PYTHON, {
    args: [
      "-c",
      "import duckdb, sys\n" +
      "con = duckdb.connect(sys.argv[1], read_only=True)\n" +
      "print(con.execute('select day from with_day').fetchone()[0])",
      join(proj, ".floe", "jaffle_duck.duckdb"),
    ],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const dec = new TextDecoder();
  assert.equal(out.code, 0, dec.decode(out.stderr));
  return dec.decode(out.stdout).trim();
}

/** Every file under `dir` whose text holds `needle`. */
async function filesHolding(dir: string, needle: string): Promise<string[]> {
  const hits: string[] = [];
  const walk = async (d: string) => {
    for await (const e of Deno.readDir(d)) {
      const p = join(d, e.name);
      if (e.isDirectory) await walk(p);
      else if (e.isFile && !p.endsWith(".duckdb")) {
        if ((await Deno.readTextFile(p).catch(() => "")).includes(needle)) {
          hits.push(p);
        }
      }
    }
  };
  await walk(dir).catch(() => {});
  return hits;
}

/** Payloads a job author could put in a var a model renders. */
function copyPayload(file: string): string {
  return `{{ run_query("COPY (SELECT 42 AS x) TO '${file}' (FORMAT CSV)") }}`;
}
function readPayload(file: string): string {
  return `{{ run_query("SELECT content FROM read_text('${file}')").columns[0].values()[0] if execute else '' }}`;
}

Deno.test(
  "vars are data: a Jinja delimiter anywhere in a job's vars is 400 E010 naming the key (local and fusion); run_query payloads write and read nothing; plain vars still reach the model",
  opts,
  async (t) => {
    await using w = await world();
    await using d = await serve(w.dir);
    const base = { command: "run", project_dir: w.proj, select: "with_day" };
    const pwned = join(w.outside, "pwned.csv");

    for (const runtime of RUNTIMES) {
      await t.step(
        `${runtime}: {{ 7 * 6 }} is refused naming vars.day`,
        async () => {
          const message = await refused(
            d,
            { ...base, runtime, vars: { day: "{{ 7 * 6 }}" } },
            /vars\.day holds the Jinja delimiter '\{\{'/,
          );
          assert.match(message, /\("\{\{ 7 \* 6 \}\}"\)/);
        },
      );
      await t.step(
        `${runtime}: nested, in a key, in YAML text, each delimiter`,
        async () => {
          await refused(d, {
            ...base,
            runtime,
            vars: { a: { b: ["ok", "{% do run_query('select 1') %}"] } },
          }, /vars\.a\.b\[1\] holds the Jinja delimiter '\{%'/);
          await refused(
            d,
            { ...base, runtime, vars: { ok: { "{{ x }}": 1 } } },
            /the key "\{\{ x \}\}" of vars\.ok holds the Jinja delimiter/,
          );
          await refused(
            d,
            { ...base, runtime, vars: "day: 'a {# b #} c'" },
            /vars\.day holds the Jinja delimiter '\{#'/,
          );
          await refused(
            d,
            { ...base, runtime, vars: { "odd key": "{{x}}" } },
            /vars\["odd key"\]/,
          );
        },
      );
      await t.step(
        `${runtime}: a COPY ... TO payload writes nothing`,
        async () => {
          await refused(d, {
            ...base,
            runtime,
            vars: { day: copyPayload(pwned) },
          }, /vars\.day/);
          assert.equal(existsSync(pwned), false);
        },
      );
      await t.step(
        `${runtime}: a read_text payload reads nothing`,
        async () => {
          await refused(d, {
            ...base,
            runtime,
            vars: { day: readPayload(join(w.outside, "secret.txt")) },
          }, /vars\.day/);
        },
      );
    }
    await t.step(
      "no job was made; nothing anywhere holds the secret",
      async () => {
        assert.equal(await jobCount(d), 0);
        assert.deepEqual(await filesHolding(w.proj, SECRET), []);
        assert.deepEqual(await filesHolding(join(w.dir, "state"), SECRET), []);
        assert.equal(existsSync(pwned), false);
      },
    );
    for (const runtime of RUNTIMES) {
      await t.step(`${runtime}: plain vars still reach the model`, async () => {
        const job = await run(d, {
          ...base,
          runtime,
          vars: { day: `2026-12-04 ${runtime} {not jinja} 50%` },
        });
        assert.equal(job.status, "succeeded", JSON.stringify(job.error));
        assert.equal(
          await day(w.proj),
          `2026-12-04 ${runtime} {not jinja} 50%`,
        );
      });
    }
  },
);

Deno.test(
  "vars are data: nested 2000 deep, 30000 deep and over 64 KiB are 400 E010 through the real HTTP API; the daemon keeps serving",
  opts,
  async () => {
    await using w = await world();
    await using d = await serve(w.dir);
    const base = { command: "run", project_dir: w.proj };
    // 2000 levels of mappings: valid JSON well under the body limit.
    const deep = `{"command":"run","project_dir":${
      JSON.stringify(w.proj)
    },"vars":${'{"a":'.repeat(2000)}1${"}".repeat(2000)}}`;
    let r = await post(d, deep);
    assert.equal(r.status, 400, JSON.stringify(r.body));
    assert.equal(r.body.code, "FLOE-DBT-E010");
    assert.match(
      String(r.body.message),
      /vars(\.a){32} nests deeper than 32 levels/,
    );
    // 30000 levels of lists in 60 KB: the parser must not fall over.
    const deeper = `{"command":"run","project_dir":${
      JSON.stringify(w.proj)
    },"vars":{"a":${"[".repeat(30000)}${"]".repeat(30000)}}}`;
    r = await post(d, deeper);
    assert.equal(r.status, 400, JSON.stringify(r.body));
    assert.equal(r.body.code, "FLOE-DBT-E010");
    assert.match(String(r.body.message), /nests deeper than 32 levels/);
    // 32 levels are fine (the job runs: the project has no var "a").
    const ok = await post(d, {
      ...base,
      select: "with_day",
      vars: JSON.parse(`${'{"a":'.repeat(31)}1${"}".repeat(31)}`),
    });
    assert.equal(ok.status, 202, JSON.stringify(ok.body));
    // A YAML alias expands a 40 KB text twice: over 64 KiB once parsed.
    const big = "x".repeat(40_000);
    r = await post(d, { ...base, vars: `a: &big ${big}\nb: *big\n` });
    assert.equal(r.status, 400, JSON.stringify(r.body));
    assert.equal(r.body.code, "FLOE-DBT-E010");
    assert.match(String(r.body.message), /vars is over 65536 bytes as JSON/);
    // Still serving, and the list holds only the accepted job.
    assert.equal((await d.fetch("/healthz")).status, 200);
    await waitJob(d, String(ok.body.id), ["succeeded", "failed"]);
    assert.equal(await jobCount(d), 1);
  },
);

Deno.test(
  "serve --allow-jinja-vars renders vars as Jinja (local and fusion): the refused payloads then compute, write and read, so the refusal is what stops them",
  opts,
  async (t) => {
    await using w = await world();
    await using d = await serve(w.dir, ["--allow-jinja-vars"]);
    assert.match(d.logs(), /job authors can run any SQL/);
    const base = { command: "run", project_dir: w.proj, select: "with_day" };
    for (const runtime of RUNTIMES) {
      await t.step(`${runtime}: {{ 7 * 6 }} becomes 42`, async () => {
        const job = await run(d, {
          ...base,
          runtime,
          vars: { day: "{{ 7 * 6 }}" },
        });
        assert.equal(job.status, "succeeded", JSON.stringify(job.error));
        assert.equal(await day(w.proj), "42");
      });
    }
    await t.step(
      "local: the COPY payload writes outside the roots",
      async () => {
        const pwned = join(w.outside, "pwned.csv");
        const job = await run(d, {
          ...base,
          vars: { day: copyPayload(pwned) },
        });
        assert.equal(job.status, "succeeded", JSON.stringify(job.error));
        assert.match(await Deno.readTextFile(pwned), /42/);
      },
    );
    await t.step(
      "local: the read_text payload reads a file outside the roots",
      async () => {
        const job = await run(d, {
          ...base,
          vars: { day: readPayload(join(w.outside, "secret.txt")) },
        });
        assert.equal(job.status, "succeeded", JSON.stringify(job.error));
        assert.equal(await day(w.proj), SECRET);
      },
    );
  },
);

Deno.test(
  "CLI: Jinja in --vars is E010 naming the key (local and fusion) unless --allow-jinja-vars; submit leaves it to the daemon",
  opts,
  async () => {
    await using w = await world();
    for (const runtime of RUNTIMES) {
      const args = [
        "run",
        "--runtime",
        runtime,
        "--project-dir",
        w.proj,
        "-s",
        "with_day",
      ];
      const out = await runAgent([...args, "--vars", "day: '{{ 7 * 6 }}'"]);
      assert.equal(out.code, 2, out.stderr);
      assert.match(
        out.stderr,
        /FLOE-DBT-E010 Unsafe --vars: vars\.day holds the Jinja delimiter/,
      );
      assert.match(out.stderr, /--allow-jinja-vars/);
      assert.equal(existsSync(join(w.proj, "target")), false, runtime);
    }
    const allowed = await runAgent([
      "run",
      "--project-dir",
      w.proj,
      "-s",
      "with_day",
      "--vars",
      "day: '{{ 6 * 7 }}'",
      "--allow-jinja-vars",
    ]);
    assert.equal(allowed.code, 0, allowed.stderr);
    assert.equal(await day(w.proj), "42");
    const deep = await runAgent([
      "run",
      "--project-dir",
      w.proj,
      "--vars",
      `${'{"a":'.repeat(40)}1${"}".repeat(40)}`,
    ]);
    assert.equal(deep.code, 2, deep.stderr);
    assert.match(deep.stderr, /FLOE-DBT-E010.*nests deeper than 32 levels/);
    // submit sends the vars as they are: the daemon (none here) decides.
    const submit = await runAgent([
      "submit",
      "run",
      "--project-dir",
      w.proj,
      "--vars",
      "day: '{{ 7 * 6 }}'",
      "--url",
      "http://127.0.0.1:9",
      "--token-file",
      join(w.outside, "secret.txt"),
    ]);
    assert.doesNotMatch(submit.stderr, /FLOE-DBT-E010/);
    assert.match(submit.stderr, /Cannot reach the floe-dbt daemon/);
  },
);

Deno.test(
  "the local and fusion runtimes refuse Jinja in vars themselves (a journaled job of a daemon that allowed it, say), before dbt starts",
  opts,
  async () => {
    await using w = await world();
    const project = { projectDir: w.proj, profilesDir: w.proj };
    for (const rt of [new LocalRuntime(), new FusionRuntime()]) {
      try {
        await assert.rejects(
          () =>
            rt.execute("run", project, {
              select: ["with_day"],
              vars: { deep: { day: copyPayload(join(w.outside, "x.csv")) } },
            }),
          (e: unknown) =>
            e instanceof FloeDbtError && e.code === "FLOE-DBT-E010" &&
            /vars\.deep\.day holds the Jinja delimiter/.test(e.message),
        );
      } finally {
        await rt.close();
      }
    }
    assert.equal(existsSync(join(w.outside, "x.csv")), false);
    assert.equal(existsSync(join(w.proj, "target")), false);
    assert.equal(existsSync(join(w.proj, ".floe", "fusion")), false);
  },
);
