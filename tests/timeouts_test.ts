/**
 * Deadlines and orphans with real dbt-core, real Fusion and DuckDB. A hung
 * model is a real hang: DuckDB's `read_csv` on a named pipe nobody writes to
 * blocks in open(2) until the process is killed.
 */
import assert from "node:assert/strict";
import type { Job } from "../src/jobs/schemas.ts";
import { FusionRuntime } from "../runtimes/fusion/mod.ts";
import { FloeDbtError } from "../src/contract/errors.ts";
import { copyExample, runAgent, writeFile } from "./_helpers.ts";
import { startDaemonProcess, until, waitJob } from "./_daemon.ts";
import { join } from "./_path.ts";

const opts = { sanitizeResources: false, sanitizeOps: false };

/** A project copy with `models/hang.sql` reading a FIFO nobody writes. */
async function hungProject(prefix: string) {
  const copy = await copyExample(prefix);
  const fifo = join(copy.dir, "never-written.fifo");
  const made = await new Deno.Command("mkfifo", { args: [fifo] }).output();
  assert.ok(made.success, "mkfifo works here");
  await writeFile(
    copy.dir,
    "models/hang.sql",
    `select * from read_csv('${fifo}', header = false, columns = {'a': 'INTEGER'})\n`,
  );
  return copy;
}

/** Process ids and their process groups whose command line mentions `text`. */
async function processesMentioning(
  text: string,
): Promise<{ pid: number; pgid: number; cmd: string }[]> {
  const out: { pid: number; pgid: number; cmd: string }[] = [];
  for await (const e of Deno.readDir("/proc")) {
    if (!/^\d+$/.test(e.name)) continue;
    try {
      const cmd = (await Deno.readTextFile(`/proc/${e.name}/cmdline`))
        .split("\0").join(" ");
      if (!cmd.includes(text)) continue;
      const stat = await Deno.readTextFile(`/proc/${e.name}/stat`);
      // pid (comm) state ppid pgrp ...: comm may hold spaces, so from ')'.
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      out.push({ pid: Number(e.name), pgid: Number(fields[2]), cmd });
    } catch {
      // gone meanwhile
    }
  }
  return out;
}

/** What is left of a process group (for failure messages). */
async function describe(pgid: number): Promise<string[]> {
  const out: string[] = [];
  for (const pid of await groupMembers(pgid)) {
    try {
      const stat = await Deno.readTextFile(`/proc/${pid}/stat`);
      out.push(stat.slice(0, 120));
    } catch {
      // gone
    }
  }
  return out;
}

/** The dbt-core worker pid a finished run job reports. */
function workerPid(job: Job): unknown {
  const r = job.result as { metadata?: Record<string, unknown> } | null;
  return r?.metadata?.worker_pid;
}

/** Live processes of a process group (zombies count as gone). */
async function groupMembers(pgid: number): Promise<number[]> {
  const members: number[] = [];
  for await (const e of Deno.readDir("/proc")) {
    if (!/^\d+$/.test(e.name)) continue;
    try {
      const stat = await Deno.readTextFile(`/proc/${e.name}/stat`);
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      if (Number(fields[2]) === pgid && fields[0] !== "Z") {
        members.push(Number(e.name));
      }
    } catch {
      // gone meanwhile
    }
  }
  return members;
}

Deno.test(
  "deadline: a hung local run ends E007 and frees its project, while another project's jobs run meanwhile",
  opts,
  async () => {
    await using a = await hungProject("floe-timeout-a-");
    await using b = await copyExample("floe-timeout-b-");
    const state = await Deno.makeTempDir({ prefix: "floe-timeout-state-" });
    const d = await startDaemonProcess([
      "--project-root",
      a.dir,
      "--project-root",
      b.dir,
      "--state-dir",
      state,
    ]);
    const submit = async (body: Record<string, unknown>) => {
      const res = await d.fetch("/v1/jobs", {
        method: "POST",
        body: JSON.stringify(body),
      });
      assert.equal(res.status, 202, await res.clone().text());
      return (await res.json() as Job).id;
    };
    const get = async (id: string) =>
      await (await d.fetch(`/v1/jobs/${id}`)).json() as Job;
    try {
      // Two projects at once: each gets its own warm worker, and neither
      // waits for the other (before, local ran one job at a time overall).
      const [wa, wb] = await Promise.all([
        submit({
          command: "run",
          project_dir: a.dir,
          profiles_dir: a.dir,
          select: "stg_customers",
        }),
        submit({
          command: "run",
          project_dir: b.dir,
          profiles_dir: b.dir,
          select: "stg_customers",
        }),
      ]);
      const ja = await waitJob(d, wa, ["succeeded", "failed"]);
      const jb = await waitJob(d, wb, ["succeeded", "failed"]);
      assert.equal(ja.status, "succeeded", JSON.stringify(ja.error));
      assert.equal(jb.status, "succeeded", JSON.stringify(jb.error));
      assert.ok(
        ja.started_at! < jb.finished_at! && jb.started_at! < ja.finished_at!,
        `the two projects' jobs overlapped: ${
          JSON.stringify([
            ja.started_at,
            ja.finished_at,
            jb.started_at,
            jb.finished_at,
          ])
        }`,
      );
      assert.notEqual(
        workerPid(ja),
        workerPid(jb),
      );

      // Project A hangs on its FIFO; its deadline is the job's own.
      const hung = await submit({
        command: "run",
        project_dir: a.dir,
        profiles_dir: a.dir,
        select: "hang",
        timeout_seconds: 30,
      });
      await waitJob(d, hung, ["running"]);
      const other = await submit({
        command: "run",
        project_dir: b.dir,
        profiles_dir: b.dir,
        select: "stg_orders",
      });
      const jo = await waitJob(d, other, ["succeeded", "failed"]);
      assert.equal(jo.status, "succeeded", JSON.stringify(jo.error));
      // B finished while A was still hung.
      assert.equal((await get(hung)).status, "running");

      const jh = await waitJob(d, hung, ["succeeded", "failed", "cancelled"]);
      assert.equal(jh.status, "failed");
      assert.equal(jh.error?.code, "FLOE-DBT-E007");
      assert.match(jh.error!.message, /deadline of 30 s/);
      assert.ok(jo.finished_at! < jh.finished_at!);

      // The project is free again: a following job on it runs.
      const after = await submit({
        command: "run",
        project_dir: a.dir,
        profiles_dir: a.dir,
        select: "stg_customers",
      });
      const jafter = await waitJob(d, after, ["succeeded", "failed"]);
      assert.equal(jafter.status, "succeeded", JSON.stringify(jafter.error));
      assert.notEqual(
        workerPid(jafter),
        workerPid(ja),
        "the hung worker was discarded and a fresh one started",
      );
    } finally {
      d.child.kill("SIGTERM");
      await d.exit();
      await Deno.remove(state, { recursive: true }).catch(() => {});
    }
  },
);

Deno.test(
  "deadline: a hung Fusion run ends E007 and its process group is gone",
  opts,
  async () => {
    await using a = await hungProject("floe-timeout-fusion-");
    const rt = new FusionRuntime({
      timeout_seconds: 20,
      fallback_to_core: false,
    });
    let pgids: number[] = [];
    const watch = (async () => {
      // The Fusion processes of this project, seen while it hangs.
      pgids = await until(
        async () => {
          const ps = await processesMentioning(a.dir);
          const fusion = ps.filter((p) => p.cmd.includes("/fusion/bin/dbt "));
          return fusion.length
            ? [...new Set(fusion.map((p) => p.pgid))]
            : undefined;
        },
        "the Fusion process",
        600,
      );
    })();
    await assert.rejects(
      () =>
        rt.execute("run", { projectDir: a.dir, profilesDir: a.dir }, {
          select: ["hang"],
        }),
      (e: unknown) =>
        e instanceof FloeDbtError && e.code === "FLOE-DBT-E007" &&
        /deadline of 20 s/.test(e.message),
    );
    await watch;
    assert.ok(pgids.length > 0);
    for (const pgid of pgids) {
      const left = await until(
        async () => (await groupMembers(pgid)).length === 0 ? true : undefined,
        `process group ${pgid} to end`,
        200,
      );
      assert.equal(left, true);
    }
    await rt.close();
  },
);

Deno.test(
  "no orphans: a Fusion run's process group dies with a daemon killed by SIGKILL",
  opts,
  async () => {
    await using a = await hungProject("floe-orphan-fusion-");
    const state = await Deno.makeTempDir({ prefix: "floe-orphan-state-" });
    const d = await startDaemonProcess([
      "--project-root",
      a.dir,
      "--state-dir",
      state,
    ]);
    let killed = false;
    try {
      const res = await d.fetch("/v1/jobs", {
        method: "POST",
        body: JSON.stringify({
          command: "run",
          runtime: "fusion",
          project_dir: a.dir,
          profiles_dir: a.dir,
          select: "hang",
        }),
      });
      assert.equal(res.status, 202, await res.clone().text());
      const job = await res.json() as Job;
      await waitJob(d, job.id, ["running"]);
      const fusion = await until(async () => {
        const ps = (await processesMentioning(a.dir)).filter((p) =>
          p.cmd.includes("/fusion/bin/dbt ")
        );
        return ps.length ? ps : undefined;
      }, "the Fusion process of the job");
      const pgids = [...new Set(fusion.map((p) => p.pgid))];
      // The group is not the daemon's own: it is the watchdog's.
      assert.ok(!pgids.includes(d.child.pid));
      d.child.kill("SIGKILL");
      killed = true;
      await d.exit();
      for (const pgid of pgids) {
        const gone = await until(
          async () =>
            (await groupMembers(pgid)).length === 0 ? true : undefined,
          `process group ${pgid} (Fusion) to die with the daemon`,
          200,
        ).catch(async (e) => {
          throw new Error(
            `${(e as Error).message}; left: ${
              JSON.stringify(await describe(pgid))
            }`,
          );
        });
        assert.equal(gone, true);
      }
    } finally {
      if (!killed) {
        d.child.kill("SIGTERM");
        await d.exit();
      }
      await Deno.remove(state, { recursive: true }).catch(() => {});
    }
  },
);

Deno.test(
  "deadline: the CLI's --timeout-seconds ends a hung local run with E007 (exit 1); a bad value is a usage error (exit 2)",
  opts,
  async () => {
    await using a = await hungProject("floe-timeout-cli-");
    const bad = await runAgent([
      "run",
      "--project-dir",
      a.dir,
      "--timeout-seconds",
      "0",
    ]);
    assert.equal(bad.code, 2, bad.stderr);
    assert.match(bad.stderr, /--timeout-seconds must be a number of seconds/);
    assert.doesNotMatch(bad.stderr, /at .*\.ts:\d+/, "no stack trace");
    const r = await runAgent([
      "run",
      "--project-dir",
      a.dir,
      "--profiles-dir",
      a.dir,
      "--select",
      "hang",
      "--timeout-seconds",
      "5",
      "--runtime",
      "local",
    ]);
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, /FLOE-DBT-E007/);
    assert.match(r.stderr, /timeout_seconds|5 s/);
  },
);
