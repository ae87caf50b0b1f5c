import assert from "node:assert/strict";
import { join } from "./_path.ts";
import { runAgent } from "./_helpers.ts";
import { ACCOUNT, cloudSetup, RUN_JOB } from "./cloud/setup.ts";

async function filesUnder(dir: string): Promise<string[]> {
  const out: string[] = [];
  for await (const e of Deno.readDir(dir)) {
    const p = join(dir, e.name);
    if (e.isDirectory) out.push(...await filesUnder(p));
    else out.push(p);
  }
  return out;
}

Deno.test("the token never appears in results, events, errors, logs, metadata or cache files", async () => {
  await using s = await cloudSetup({ environment_id: 3 });
  const seen: string[] = [];
  const onEvent = (e: unknown) => seen.push(JSON.stringify(e));
  const r = await s.runtime.runModels(s.project, { select: ["stg_orders"] }, {
    onEvent,
  });
  seen.push(JSON.stringify(r), JSON.stringify(s.runtime.getRuntimeMetadata()));
  seen.push(JSON.stringify(await s.runtime.availability()));
  s.server.faults.push({ route: "trigger", kind: "status", status: 401 });
  s.server.faults.push({
    route: "run_artifact",
    kind: "status",
    status: 503,
    times: 9,
  });
  for (
    const f of [
      () => s.runtime.runModels(s.project),
      () => s.runtime.getManifest(s.project, { noCache: true }),
    ]
  ) {
    await f().then(
      () => assert.fail("should fail"),
      (e: Error & { hint?: string }) =>
        seen.push(String(e), e.hint ?? "", JSON.stringify(e)),
    );
  }
  seen.push(...s.logs);
  const files = await filesUnder(s.project.projectDir);
  assert.ok(
    files.some((f) => f.endsWith("metadata.json")),
    "the cache was written",
  );
  for (const f of files) seen.push(await Deno.readTextFile(f));
  assert.ok(seen.length > 10);
  for (const text of seen) {
    assert.ok(
      !text.includes(s.token),
      `token leaked in: ${text.slice(0, 200)}`,
    );
  }
  // The token did go where it belongs: the Authorization header.
  assert.ok(s.server.requests.every((q) => q.auth === `Bearer ${s.token}`));
});

Deno.test("floe-dbt run --runtime cloud --json against the fake server: result, progress, cache ls, no token", async () => {
  await using s = await cloudSetup();
  const dir = s.project.projectDir;
  await Deno.writeTextFile(
    join(dir, "manifest.yaml"),
    `plugins:\n  dbt_runtime: cloud\n  dbt_runtime_config:\n    cloud:\n      account_id: ${ACCOUNT}\n      api_token_ref: ${s.ref}\n      base_url: ${s.server.url}\n      job_ids: { run: ${RUN_JOB} }\n      poll_interval_seconds: 0.01\n      max_poll_interval_seconds: 0.02\n`,
  );
  const env = { [`FLOE_SECRET_${s.ref.toUpperCase()}`]: s.token };
  const run = await runAgent([
    "run",
    "--project-dir",
    dir,
    "--json",
    "--log-format",
    "json",
    "-s",
    "stg_orders",
  ], { cwd: dir, env });
  assert.equal(run.code, 0, run.stderr);
  const result = JSON.parse(run.stdout);
  assert.equal(result.success, true);
  assert.equal(result.metadata.run_id, String([...s.server.runs.keys()][0]));
  const events = run.stderr.split("\n").filter((l) => l.startsWith("{")).map((
    l,
  ) => JSON.parse(l));
  assert.ok(
    events.some((e) =>
      e.type === "node_finished" &&
      e.unique_id === "model.jaffle_duck.customers"
    ),
  );
  assert.equal(events.at(-1).type, "job_finished");
  const ls = await runAgent(["cache", "ls", "--json", "--project-dir", dir], {
    cwd: dir,
    env,
  });
  assert.equal(ls.code, 0, ls.stderr);
  const entries = JSON.parse(ls.stdout).entries;
  assert.equal(entries.length, 1);
  assert.equal(entries[0].key, result.metadata.run_id);
  const clear = await runAgent(["cache", "clear", "--project-dir", dir], {
    cwd: dir,
    env,
  });
  assert.match(clear.stdout, /removed 1 entry/);
  const bad = await runAgent(["cache", "purge"], { cwd: dir, env });
  assert.equal(bad.code, 2);
  for (
    const text of [
      run.stdout,
      run.stderr,
      ls.stdout,
      ls.stderr,
      clear.stdout,
      bad.stderr,
    ]
  ) {
    assert.ok(!text.includes(s.token), "token leaked into CLI output");
  }
});
