/**
 * The daemon trusts no file it did not write (issue 19, item 5): a state
 * directory another user can write (or owns) is refused at start with E003
 * and a chmod hint, so a planted jobs.jsonl never runs; the files the daemon
 * writes are 0600 and its folders 0700; a --token-file others can read is
 * warned about on loopback and refused off it. Real daemon processes, real
 * dbt-core.
 */
import assert from "node:assert/strict";
import { startDaemonProcess, waitJob } from "./_daemon.ts";
import { submitJob } from "./_fault.ts";
import { copyExample, ROOT } from "./_helpers.ts";
import { join } from "./_path.ts";
import type { Job } from "../src/jobs/schemas.ts";

const opts = { sanitizeResources: false, sanitizeOps: false };

/** `floe-dbt serve ARGS` to its end (a refused start ends at once). */
async function serveOnce(
  args: string[],
): Promise<{ code: number; stderr: string }> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--allow-all",
      "--quiet",
      join(ROOT, "main.ts"),
      "serve",
      "--port",
      "0",
      ...args,
    ],
    env: { NO_COLOR: "1" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  return { code: out.code, stderr: new TextDecoder().decode(out.stderr) };
}

/** A queued compile job of `projectDir`, as a planted journal line. */
function queuedJob(projectDir: string): Job {
  return {
    id: "0000000000000000planted",
    status: "queued",
    runtime: "local",
    request: {
      command: "compile",
      project_dir: projectDir,
      profiles_dir: projectDir,
    },
    idempotency_key: null,
    created_at: new Date().toISOString(),
    started_at: null,
    finished_at: null,
    result: null,
    error: null,
    remote_run_id: null,
    agent_pid: null,
  } as Job;
}

const exists = (p: string) => Deno.lstat(p).then(() => true, () => false);
const modeOf = async (p: string) => ((await Deno.stat(p)).mode ?? 0) & 0o777;

for (const mode of [0o777, 0o770, 0o702]) {
  Deno.test(
    `a state dir with mode ${
      mode.toString(8)
    } holding a planted queued job is refused at start (E003); the job never runs`,
    opts,
    async () => {
      await using copy = await copyExample("floe-perms-planted-");
      const state = join(copy.dir, "..", `${copy.dir.split("/").pop()}-state`);
      await Deno.mkdir(state);
      try {
        await Deno.chmod(state, mode);
        const line = JSON.stringify(queuedJob(copy.dir)) + "\n";
        await Deno.writeTextFile(join(state, "jobs.jsonl"), line);
        const out = await serveOnce([
          "--project-root",
          copy.dir,
          "--state-dir",
          state,
        ]);
        assert.equal(out.code, 2, out.stderr);
        assert.match(
          out.stderr,
          new RegExp(
            `FLOE-DBT-E003 The state directory '${state}' is writable by`,
          ),
        );
        assert.ok(out.stderr.includes(`chmod 700 ${state}`), out.stderr);
        assert.equal(await Deno.readTextFile(join(state, "jobs.jsonl")), line);
        assert.equal(await exists(join(copy.dir, "target")), false);
        assert.equal(await exists(join(state, "daemon.lock")), false);
        assert.equal(await modeOf(state), mode, "refused, not repaired");

        // The same journal in a private folder: the job is real and runs.
        if (mode !== 0o777) return;
        await Deno.chmod(state, 0o700);
        const d = await startDaemonProcess([
          "--project-root",
          copy.dir,
          "--state-dir",
          state,
        ]);
        try {
          assert.ok(d.url, d.logs());
          const job = await waitJob(d, queuedJob(copy.dir).id, [
            "succeeded",
            "failed",
          ]);
          assert.equal(job.status, "succeeded", JSON.stringify(job.error));
          assert.equal(await exists(join(copy.dir, "target")), true);
        } finally {
          d.child.kill("SIGTERM");
          await d.exit();
        }
      } finally {
        await Deno.remove(state, { recursive: true }).catch(() => {});
      }
    },
  );
}

Deno.test(
  "a state dir owned by another user is refused (E003)",
  opts,
  async () => {
    const dir = await Deno.makeTempDir({ prefix: "floe-perms-owner-" });
    try {
      const state = join(dir, "state");
      await Deno.mkdir(state, { mode: 0o700 });
      const other = (Deno.uid() ?? 0) + 4242;
      await Deno.chown(state, other, null);
      const out = await serveOnce([
        "--project-root",
        dir,
        "--state-dir",
        state,
      ]);
      assert.equal(out.code, 2, out.stderr);
      assert.match(
        out.stderr,
        new RegExp(
          `FLOE-DBT-E003 The state directory '${state}' belongs to another user \\(uid ${other}`,
        ),
      );
      assert.ok(out.stderr.includes(`chmod 700 ${state}`), out.stderr);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
);

Deno.test(
  "the daemon's files are 0600 and its folders 0700 (state, lock, journal, token, identity, events, artifacts)",
  opts,
  async () => {
    await using copy = await copyExample("floe-perms-modes-");
    const state = join(copy.dir, ".state");
    // An older agent's lock file, 0644: made 0600 at start.
    await Deno.mkdir(state, { mode: 0o700 });
    await Deno.writeTextFile(join(state, "daemon.lock"), "", { mode: 0o644 });
    await Deno.chmod(join(state, "daemon.lock"), 0o644);
    const d = await startDaemonProcess([
      "--project-root",
      copy.dir,
      "--state-dir",
      state,
    ]);
    try {
      assert.ok(d.url, d.logs());
      const job = await submitJob(d, {
        command: "compile",
        project_dir: copy.dir,
        profiles_dir: copy.dir,
      });
      const done = await waitJob(d, job.id, ["succeeded", "failed"]);
      assert.equal(done.status, "succeeded", JSON.stringify(done.error));
      assert.equal(await modeOf(state), 0o700);
      for (const f of ["daemon.lock", "jobs.jsonl", "token", "daemon.json"]) {
        assert.equal(await modeOf(join(state, f)), 0o600, f);
      }
      const artifacts = join(state, "artifacts");
      assert.equal(await modeOf(artifacts), 0o700);
      let files = 0;
      for await (const e of Deno.readDir(join(artifacts, job.id))) {
        assert.equal(
          await modeOf(join(artifacts, job.id, e.name)),
          0o600,
          e.name,
        );
        files++;
      }
      assert.ok(files > 0, "the job kept artifacts");
      const events = join(state, "events");
      assert.equal(await modeOf(events), 0o700);
      let spilled = 0;
      for await (const e of Deno.readDir(events)) {
        assert.equal(await modeOf(join(events, e.name)), 0o600, e.name);
        spilled++;
      }
      assert.ok(spilled > 0, "the job's events are on disk");
    } finally {
      d.child.kill("SIGTERM");
      await d.exit();
    }
    // A clean stop removes the daemon's identity record.
    assert.equal(await exists(join(state, "daemon.json")), false);
  },
);

Deno.test(
  "a --token-file others can read: a warning on loopback, refused off it",
  opts,
  async () => {
    const dir = await Deno.makeTempDir({ prefix: "floe-perms-token-" });
    try {
      const token = join(dir, "token.txt");
      await Deno.writeTextFile(token, "t-" + "a".repeat(40) + "\n");
      await Deno.chmod(token, 0o644);
      const off = await serveOnce([
        "--host",
        "0.0.0.0",
        "--project-root",
        dir,
        "--state-dir",
        join(dir, "state-off"),
        "--token-file",
        token,
      ]);
      assert.equal(off.code, 2, off.stderr);
      assert.match(
        off.stderr,
        /FLOE-DBT-E003 The token file '.*token\.txt' is readable by other users \(mode 644\): refused for a daemon listening on 0\.0\.0\.0/,
      );
      assert.ok(off.stderr.includes(`chmod 600 ${token}`), off.stderr);

      const d = await startDaemonProcess([
        "--project-root",
        dir,
        "--state-dir",
        join(dir, "state-lo"),
        "--token-file",
        token,
      ]);
      try {
        assert.ok(d.url, d.logs());
        assert.match(
          d.logs(),
          /warn: The token file '.*token\.txt' is readable by other users \(mode 644\): anyone on this machine can call the daemon/,
        );
      } finally {
        d.child.kill("SIGTERM");
        await d.exit();
      }

      await Deno.chmod(token, 0o600);
      const quiet = await startDaemonProcess([
        "--project-root",
        dir,
        "--state-dir",
        join(dir, "state-lo"),
        "--token-file",
        token,
      ]);
      try {
        assert.ok(quiet.url, quiet.logs());
        assert.doesNotMatch(quiet.logs(), /readable by other users/);
      } finally {
        quiet.child.kill("SIGTERM");
        await quiet.exit();
      }
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
);
