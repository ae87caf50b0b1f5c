import assert from "node:assert/strict";
import { join } from "node:path";
import { Journal } from "./journal.ts";
import type { Job } from "./schemas.ts";

function job(id: string): Job {
  return {
    id,
    status: "queued",
    runtime: "local",
    request: { command: "run", project_dir: "/p" },
    idempotency_key: null,
    created_at: "2026-11-23T10:00:00.000Z",
    started_at: null,
    finished_at: null,
    result: null,
    error: null,
    remote_run_id: null,
    agent_pid: null,
  };
}

Deno.test("journal: it compacts itself while appending once the file outgrows its live jobs; forgotten jobs leave", async () => {
  const dir = await Deno.makeTempDir();
  const logged: string[] = [];
  const j = new Journal(dir, { log: (_l, m) => logged.push(m) });
  const live = [job("a"), job("b"), job("c")];
  let largest = 0;
  let shrank = false;
  for (let i = 0; i < 400; i++) {
    const x = live[i % 3]!;
    x.error = { code: "FLOE-DBT-E007", message: `update ${i} `.repeat(20) };
    if (i === 200) j.forget("c");
    await j.append(i >= 200 && x.id === "c" ? live[0]! : x);
    const size = (await Deno.stat(join(dir, "jobs.jsonl"))).size;
    if (size < largest) shrank = true;
    largest = Math.max(largest, size);
  }
  await j.close();
  assert.ok(shrank, "the file never shrank");
  assert.ok(logged.includes("compacted the job journal"));
  const { jobs, skipped } = await new Journal(dir).load();
  assert.equal(skipped, 0);
  assert.deepEqual(jobs.map((x) => x.id).sort(), ["a", "b"]);
  // The last snapshot of each is kept.
  assert.deepEqual(jobs.find((x) => x.id === "a")!.error, live[0]!.error);
});
