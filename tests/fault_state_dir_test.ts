/**
 * Fault suite, the state directory: one daemon per state directory (a second
 * one is refused and touches nothing), the port bound before recovery, and a
 * state directory that cannot be used is E003 with a hint. Real daemon
 * processes.
 */
import assert from "node:assert/strict";
import { startDaemonProcess, waitJob } from "./_daemon.ts";
import { assertNothingLost, submitJob } from "./_fault.ts";
import { copyExample, ROOT } from "./_helpers.ts";
import { join } from "./_path.ts";

const opts = { sanitizeResources: false, sanitizeOps: false };

/** `floe-dbt serve ARGS` to its end (a refused start ends at once). */
async function serveOnce(
  args: string[],
  wrap: string[] = [],
): Promise<{ code: number; stderr: string }> {
  const deno = [
    Deno.execPath(),
    "run",
    "--allow-all",
    "--quiet",
    join(ROOT, "main.ts"),
    "serve",
    ...args,
  ];
  const [cmd, ...rest] = [...wrap, ...deno];
  const out = await new Deno.Command(cmd!, {
    args: rest,
    env: { NO_COLOR: "1" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  return { code: out.code, stderr: new TextDecoder().decode(out.stderr) };
}

/** True when this machine lets a process make a private mount namespace. */
async function mountNamespaces(): Promise<boolean> {
  try {
    const out = await new Deno.Command("unshare", {
      args: ["--mount", "--propagation", "private", "true"],
      stdout: "null",
      stderr: "null",
    }).output();
    return out.code === 0;
  } catch {
    return false;
  }
}

/** Bytes, inode and mtime of every file in `dir`: what "untouched" means. */
async function snapshot(dir: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for await (const e of Deno.readDir(dir)) {
    if (!e.isFile) continue;
    const path = join(dir, e.name);
    const st = await Deno.stat(path);
    out[e.name] = `${st.ino} ${st.mtime?.getTime()} ${await Deno.readTextFile(
      path,
    )}`;
  }
  return out;
}

/** A journal line of a queued job, as an earlier daemon left it. */
function queuedLine(projectDir: string): string {
  return JSON.stringify({
    id: crypto.randomUUID(),
    status: "queued",
    runtime: "local",
    request: { command: "compile", project_dir: projectDir },
    idempotency_key: null,
    created_at: new Date().toISOString(),
    started_at: null,
    finished_at: null,
    result: null,
    error: null,
    remote_run_id: null,
    agent_pid: null,
  }) + "\n";
}

Deno.test(
  "fault: a second daemon on the same state dir is refused naming the holder's pid, touches nothing, and the first one goes on",
  opts,
  async () => {
    await using copy = await copyExample("floe-fault-second-");
    const state = await Deno.makeTempDir({ prefix: "floe-fault-state-" });
    const d1 = await startDaemonProcess([
      "--project-root",
      copy.dir,
      "--state-dir",
      state,
    ]);
    try {
      assert.ok(d1.url, d1.logs());
      const first = await submitJob(d1, {
        command: "compile",
        project_dir: copy.dir,
      });
      await waitJob(d1, first.id, ["succeeded", "failed"]);
      const before = await snapshot(state);
      assert.ok(
        before["jobs.jsonl"] && before["token"],
        Object.keys(before).join(", "),
      );

      const second = await serveOnce([
        "--port",
        "0",
        "--project-root",
        copy.dir,
        "--state-dir",
        state,
      ]);
      assert.equal(second.code, 2, second.stderr);
      assert.match(second.stderr, /FLOE-DBT-E003/);
      assert.match(
        second.stderr,
        new RegExp(
          `Another floe-dbt daemon \\(pid ${d1.child.pid}\\b.*already uses the state directory`,
        ),
      );
      assert.match(second.stderr, /hint: .*--state-dir/);
      assert.doesNotMatch(second.stderr, /listening on|internal error/);
      // No compaction (same inode and bytes), no new token, no lock rewrite.
      assert.deepEqual(await snapshot(state), before);

      // The first daemon is unaffected: it still runs jobs and journals them.
      const next = await submitJob(d1, {
        command: "compile",
        project_dir: copy.dir,
      });
      await waitJob(d1, next.id, ["succeeded", "failed"]);
      await assertNothingLost(d1, state, {
        [first.id]: "succeeded",
        [next.id]: "succeeded",
      });
    } finally {
      d1.child.kill("SIGTERM");
      assert.equal(await d1.exit(), 0);
    }
    // Its lock went with it: the next daemon on that state dir starts.
    const d2 = await startDaemonProcess([
      "--project-root",
      copy.dir,
      "--state-dir",
      state,
    ]);
    try {
      assert.ok(d2.url, d2.logs());
    } finally {
      d2.child.kill("SIGTERM");
      await d2.exit();
      await Deno.remove(state, { recursive: true });
    }
  },
);

Deno.test(
  "fault: a port in use fails the start before recovery: the queued job is not run and the journal is not compacted",
  opts,
  async () => {
    const dir = await Deno.makeTempDir({ prefix: "floe-fault-port-" });
    const busy = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    try {
      const state = join(dir, "state");
      await Deno.mkdir(state);
      // A journal with a queued job and a torn tail: recovery would rewrite it.
      await Deno.writeTextFile(
        join(state, "jobs.jsonl"),
        queuedLine(dir) + '{"id":"torn',
      );
      const before = await snapshot(state);
      const out = await serveOnce([
        "--port",
        String(busy.addr.port),
        "--project-root",
        dir,
        "--state-dir",
        state,
      ]);
      assert.equal(out.code, 2, out.stderr);
      assert.match(
        out.stderr,
        new RegExp(
          `FLOE-DBT-E003 Cannot listen on 127\\.0\\.0\\.1:${busy.addr.port}: the address is in use`,
        ),
      );
      assert.match(out.stderr, /hint: .*--port/);
      const after = await snapshot(state);
      assert.equal(after["jobs.jsonl"], before["jobs.jsonl"]);
      assert.doesNotMatch(out.stderr, /job started|skipped unreadable/);
    } finally {
      busy.close();
      await Deno.remove(dir, { recursive: true });
    }
  },
);

Deno.test(
  "fault: a state dir that is a file is E003 with a hint, not an internal error",
  opts,
  async () => {
    const dir = await Deno.makeTempDir({ prefix: "floe-fault-file-" });
    try {
      const state = join(dir, "state");
      await Deno.writeTextFile(state, "not a directory\n");
      const out = await serveOnce([
        "--port",
        "0",
        "--project-root",
        dir,
        "--state-dir",
        state,
      ]);
      assert.equal(out.code, 2, out.stderr);
      assert.match(
        out.stderr,
        new RegExp(
          `FLOE-DBT-E003 Cannot create the state directory '${state}'`,
        ),
      );
      assert.match(out.stderr, /hint: give the daemon a directory it can read/);
      assert.doesNotMatch(out.stderr, /E002|internal error|listening on/);
      assert.equal(await Deno.readTextFile(state), "not a directory\n");
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
);

Deno.test(
  "fault: a read-only state dir (a read-only bind mount) is E003 with a hint, and its journal is left as it was",
  opts,
  async () => {
    const dir = await Deno.makeTempDir({ prefix: "floe-fault-ro-" });
    try {
      const state = join(dir, "state");
      await Deno.mkdir(state);
      await Deno.writeTextFile(join(state, "jobs.jsonl"), queuedLine(dir));
      // A private mount namespace: the read-only bind ends with the process.
      // Where the machine cannot make one (no mount rights), the write
      // error is injected instead: the lock file's name is taken by a
      // folder, so opening it for writing fails the same way.
      const canMount = await mountNamespaces();
      if (!canMount) await Deno.mkdir(join(state, "daemon.lock"));
      const before = await snapshot(state);
      const out = await serveOnce(
        [
          "--port",
          "0",
          "--project-root",
          dir,
          "--state-dir",
          state,
        ],
        canMount
          ? [
            "unshare",
            "--mount",
            "--propagation",
            "private",
            "sh",
            "-c",
            'mount --bind -o ro "$0" "$0" && exec "$@"',
            state,
          ]
          : [],
      );
      assert.equal(out.code, 2, out.stderr);
      assert.match(
        out.stderr,
        canMount
          ? /FLOE-DBT-E003 Cannot open the lock file in the state directory '.*': .*Read-only file system/
          : /FLOE-DBT-E003 Cannot open the lock file in the state directory '.*'/,
      );
      assert.match(out.stderr, /hint: /);
      if (canMount) assert.match(out.stderr, /hint: .*not a read-only mount/);
      assert.doesNotMatch(out.stderr, /E002|internal error|listening on/);
      assert.deepEqual(await snapshot(state), before);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
);
