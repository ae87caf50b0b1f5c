import assert from "node:assert/strict";
import { join } from "node:path";
import type { ProgressEvent } from "../contract/schemas.ts";
import { EventLog, type NumberedEvent } from "./event_log.ts";

function log(message: string): ProgressEvent {
  return { v: 1, type: "log", level: "info", message, ts: "t" };
}

async function all(it: AsyncIterable<NumberedEvent>): Promise<NumberedEvent[]> {
  return await Array.fromAsync(it);
}

Deno.test("event log: a job's memory stays at the cap; the file has every event with its id", async () => {
  const dir = await Deno.makeTempDir();
  const events = new EventLog({ dir: join(dir, "events"), memoryCap: 50 });
  await events.open("job-a");
  for (let i = 0; i < 1000; i++) {
    assert.equal(events.append("job-a", log(`e${i}`)), i);
  }
  await events.flush("job-a");
  assert.equal(events.inMemory, 50);
  const w = events.window("job-a");
  assert.equal(w.base, 950);
  assert.equal((w.events[0] as { message: string }).message, "e950");
  const full = await all(events.read("job-a"));
  assert.deepEqual(full.map(([id]) => id), [...Array(1000).keys()]);
  assert.ok(
    full.every(([id, e]) => (e as { message: string }).message === `e${id}`),
  );
  const tail = await all(events.read("job-a", 990));
  assert.deepEqual(tail.map(([id]) => id), [
    990,
    991,
    992,
    993,
    994,
    995,
    996,
    997,
    998,
    999,
  ]);
  const slice = await all(events.readFile("job-a", 10, 13));
  assert.deepEqual(slice.map(([id]) => id), [10, 11, 12]);

  await events.end("job-a");
  assert.equal(events.inMemory, 0, "an ended job holds nothing in memory");
  assert.equal(events.liveJobs, 0);
  assert.equal(events.window("job-a").live, false);
  assert.equal(
    (await all(events.read("job-a"))).length,
    1000,
    "the file answers",
  );
  await Deno.remove(dir, { recursive: true });
});

Deno.test("event log: after a restart numbering continues, a torn last line is cut", async () => {
  const dir = await Deno.makeTempDir();
  const first = new EventLog({ dir, memoryCap: 5 });
  await first.open("job-b");
  for (let i = 0; i < 3; i++) first.append("job-b", log(`e${i}`));
  await first.end("job-b");
  await Deno.writeTextFile(join(dir, "job-b.jsonl"), '{"v":1,"ty', {
    append: true,
  });
  const second = new EventLog({ dir, memoryCap: 5 });
  await second.open("job-b");
  assert.equal(second.append("job-b", log("e3")), 3);
  await second.end("job-b");
  const ids = (await all(second.read("job-b"))).map(([id]) => id);
  assert.deepEqual(ids, [0, 1, 2, 3]);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("event log: sweep removes files of unknown jobs only; remove deletes one", async () => {
  const dir = await Deno.makeTempDir();
  const events = new EventLog({ dir });
  for (const id of ["keep-1", "gone-1", "gone-2"]) {
    await events.open(id);
    events.append(id, log(id));
    await events.end(id);
  }
  await Deno.writeTextFile(join(dir, "notes.txt"), "not ours");
  assert.equal(await events.sweep((id) => id === "keep-1"), 2);
  const left = (await Array.fromAsync(Deno.readDir(dir))).map((e) => e.name)
    .sort();
  assert.deepEqual(left, ["keep-1.jsonl", "notes.txt"]);
  await events.remove("keep-1");
  assert.deepEqual(await all(events.read("keep-1")), []);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("event log: a failed write is logged once and memory stays capped", async () => {
  const dir = await Deno.makeTempDir();
  const logged: string[] = [];
  const events = new EventLog({
    dir,
    memoryCap: 10,
    log: (_l, message) => logged.push(message),
  });
  await events.open("job-c");
  // The events file cannot be opened: a directory sits where it would be.
  await Deno.mkdir(join(dir, "job-c.jsonl"));
  for (let i = 0; i < 100; i++) events.append("job-c", log(`e${i}`));
  await events.flush("job-c");
  for (let i = 100; i < 200; i++) events.append("job-c", log(`e${i}`));
  assert.equal(events.inMemory, 10);
  assert.deepEqual(logged, ["writing job events failed"]);
  await events.end("job-c");
  await Deno.remove(dir, { recursive: true });
});
