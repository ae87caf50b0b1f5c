/**
 * Nothing follows a link out of the project: symbolic links planted under
 * `.floe/`, `target/` and the cloud cache are refused (E003, naming the link)
 * or removed as links, and what they point at is never written, truncated,
 * deleted or read into memory. Real dbt-core, Fusion and DuckDB.
 */
import assert from "node:assert/strict";
import { FusionRuntime } from "../runtimes/fusion/mod.ts";
import { LocalRuntime } from "../runtimes/local/mod.ts";
import { FloeDbtError } from "../src/contract/errors.ts";
import type { Job } from "../src/jobs/schemas.ts";
import { startDaemonProcess, waitJob } from "./_daemon.ts";
import { copyExample, runAgent, writeFile } from "./_helpers.ts";
import { join } from "./_path.ts";

const opts = { sanitizeResources: false, sanitizeOps: false };
const TOKEN = "links-test-token-0123456789abcdef";

const isE003 = (re: RegExp) => (e: unknown) => {
  assert.ok(e instanceof FloeDbtError, String(e));
  assert.equal(e.code, "FLOE-DBT-E003", e.toString());
  assert.match(e.toString(), re);
  return true;
};

/** A directory outside the project holding things that must survive. */
async function victim(): Promise<
  { dir: string; [Symbol.asyncDispose](): Promise<void> }
> {
  const dir = await Deno.makeTempDir({ prefix: "floe-victim-" });
  await Deno.writeTextFile(join(dir, "precious.txt"), "keep me\n");
  return {
    dir,
    async [Symbol.asyncDispose]() {
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    },
  };
}

function listing(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string, rel: string) => {
    for (const e of Deno.readDirSync(d)) {
      const r = rel ? `${rel}/${e.name}` : e.name;
      out.push(r);
      if (e.isDirectory) walk(join(d, e.name), r);
    }
  };
  walk(dir, "");
  return out.sort();
}

/** A call-id style name (as Fusion call dirs are named) `hours` ago. */
function callId(hoursAgo: number, n: number): string {
  const stamp = new Date(Date.now() - hoursAgo * 3600_000).toISOString()
    .replace(/[-:.]/g, "");
  return `${stamp}-${n.toString(16).padStart(8, "0")}`;
}

/** Set a path's own times (not its link target's) to two hours ago. */
async function age(path: string): Promise<void> {
  const r = await new Deno.Command("touch", {
    args: ["-h", "-d", "2 hours ago", path],
  }).output();
  assert.equal(r.code, 0, new TextDecoder().decode(r.stderr));
}

Deno.test(
  "local: a .floe/dbt.lock linked outside is refused and its target not truncated",
  opts,
  async () => {
    await using copy = await copyExample();
    await using v = await victim();
    await Deno.mkdir(join(copy.dir, ".floe"));
    await Deno.symlink(
      join(v.dir, "precious.txt"),
      join(copy.dir, ".floe", "dbt.lock"),
    );
    const rt = new LocalRuntime();
    try {
      await assert.rejects(
        rt.execute("seed", { projectDir: copy.dir, profilesDir: copy.dir }),
        isE003(
          /lock file '\.floe\/dbt\.lock' is a symbolic link[\s\S]*hint: remove the link '\.floe\/dbt\.lock'/,
        ),
      );
    } finally {
      await rt.close();
    }
    assert.equal(
      await Deno.readTextFile(join(v.dir, "precious.txt")),
      "keep me\n",
    );
  },
);

Deno.test(
  "local: a .floe linked outside the project is refused before dbt runs",
  opts,
  async () => {
    await using copy = await copyExample();
    await using v = await victim();
    await Deno.symlink(v.dir, join(copy.dir, ".floe"));
    const r = await runAgent(["seed", "--project-dir", copy.dir]);
    assert.equal(r.code, 2, r.stderr);
    assert.match(
      r.stderr,
      /FLOE-DBT-E003 The floe-dbt state directory '\.floe' of project .* is a symbolic link/,
    );
    assert.match(r.stderr, /hint: remove the link '\.floe'/);
    assert.deepEqual(listing(v.dir), ["precious.txt"]);
  },
);

Deno.test(
  "fusion: a .floe/fusion linked outside is refused; nothing there is created or pruned",
  opts,
  async () => {
    await using copy = await copyExample("floe-fusion-links-");
    await using v = await victim();
    // Old call-id-named folders: on main, pruning deleted these through the link.
    for (let i = 0; i < 25; i++) {
      const d = join(v.dir, callId(3, i));
      await Deno.mkdir(d);
      await Deno.writeTextFile(join(d, "data.txt"), "mine");
      await age(d);
    }
    const before = listing(v.dir);
    await Deno.mkdir(join(copy.dir, ".floe"));
    await Deno.symlink(v.dir, join(copy.dir, ".floe", "fusion"));
    const rt = new FusionRuntime();
    const ref = { projectDir: copy.dir, profilesDir: copy.dir };
    await assert.rejects(
      rt.execute("compile", ref),
      isE003(
        /'\.floe\/fusion' is a symbolic link[\s\S]*remove the link '\.floe\/fusion'/,
      ),
    );
    await assert.rejects(rt.getManifest(ref), isE003(/\.floe\/fusion/));
    assert.deepEqual(listing(v.dir), before);
  },
);

Deno.test(
  "fusion: pruning removes an old call-id link itself, never what it points at",
  opts,
  async () => {
    await using copy = await copyExample("floe-fusion-links-");
    await using v = await victim();
    const root = join(copy.dir, ".floe", "fusion");
    await Deno.mkdir(root, { recursive: true });
    const link = join(root, callId(5, 999));
    await Deno.symlink(v.dir, link);
    await age(link);
    for (let i = 0; i < 21; i++) {
      const d = join(root, callId(3, i));
      await Deno.mkdir(join(d, "target"), { recursive: true });
      await age(d);
    }
    const rt = new FusionRuntime();
    const r = await rt.execute("compile", {
      projectDir: copy.dir,
      profilesDir: copy.dir,
    });
    assert.equal(r.success, true);
    const names = [...Deno.readDirSync(root)].map((e) => e.name);
    assert.equal(
      names.some((n) => n.endsWith("-000003e7")),
      false,
      `the link is pruned: ${names}`,
    );
    assert.equal(names.filter((n) => /^\d{8}T/.test(n)).length, 20);
    assert.deepEqual(listing(v.dir), ["precious.txt"]);
  },
);

Deno.test(
  "run-results and manifest: a linked artifact, /dev/zero, a linked target/ and the size cap are clear errors",
  opts,
  async () => {
    await using copy = await copyExample();
    await using v = await victim();
    const target = join(copy.dir, "target");
    await Deno.mkdir(target);
    const outside = join(v.dir, "run_results.json");
    await Deno.writeTextFile(outside, '{"results": [], "secret": "outside"}');
    const runResults = join(target, "run_results.json");

    await Deno.symlink(outside, runResults);
    let r = await runAgent(["run-results", "--project-dir", copy.dir]);
    assert.equal(r.code, 2, r.stderr);
    assert.match(
      r.stderr,
      /FLOE-DBT-E003 dbt artifact '[^']*target\/run_results\.json' is a symbolic link/,
    );
    assert.match(
      r.stderr,
      /hint: remove the link '[^']*target\/run_results\.json'/,
    );
    assert.doesNotMatch(r.stdout, /outside/);

    await Deno.remove(runResults);
    await Deno.symlink("/dev/zero", runResults);
    r = await runAgent(["run-results", "--project-dir", copy.dir]);
    assert.equal(r.code, 2, r.stderr);
    assert.match(
      r.stderr,
      /target\/run_results\.json' is a symbolic link \(to '\/dev\/zero'\)/,
    );

    await Deno.writeTextFile(
      join(target, "manifest.json"),
      JSON.stringify({ nodes: {}, pad: "x".repeat(100) }),
    );
    r = await runAgent(["manifest", "--project-dir", copy.dir], {
      env: { FLOE_DBT_MAX_ARTIFACT_BYTES: "50" },
    });
    assert.equal(r.code, 2, r.stderr);
    assert.match(
      r.stderr,
      /dbt artifact '[^']*target\/manifest\.json' is 121 bytes, over the 50-byte limit/,
    );
    assert.match(r.stderr, /FLOE_DBT_MAX_ARTIFACT_BYTES/);
    r = await runAgent(["manifest", "--project-dir", copy.dir, "--json"]);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(JSON.parse(r.stdout).nodes, {});

    await Deno.remove(target, { recursive: true });
    await Deno.symlink(v.dir, target);
    r = await runAgent(["run-results", "--project-dir", copy.dir]);
    assert.equal(r.code, 2, r.stderr);
    assert.match(
      r.stderr,
      /The dbt target directory 'target' of project .* is a symbolic link/,
    );
    assert.doesNotMatch(r.stdout, /outside/);
  },
);

Deno.test(
  "cache gc/clear: a linked entry goes as a link (its target survives); a linked cache dir is refused",
  opts,
  async () => {
    await using copy = await copyExample();
    await using v = await victim();
    const cache = join(copy.dir, ".floe", "dbt-cloud-cache");
    await Deno.mkdir(join(v.dir, "123"));
    await Deno.writeTextFile(join(v.dir, "123", "manifest.json"), "{}");
    await Deno.mkdir(cache, { recursive: true });
    await Deno.symlink(join(v.dir, "123"), join(cache, "123"));
    await Deno.mkdir(join(cache, "notes"));
    const before = listing(v.dir);
    let r = await runAgent(["cache", "gc", "--project-dir", copy.dir], {
      cwd: copy.dir,
    });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /removed 1 entry/);
    assert.deepEqual(listing(cache), ["notes"], "a foreign name stays");
    assert.deepEqual(listing(v.dir), before);

    await Deno.remove(cache, { recursive: true });
    await Deno.symlink(v.dir, cache);
    for (const sub of ["gc", "clear", "ls"]) {
      r = await runAgent(["cache", sub, "--project-dir", copy.dir], {
        cwd: copy.dir,
      });
      assert.equal(r.code, 2, `${sub}: ${r.stderr}`);
      assert.match(
        r.stderr,
        /FLOE-DBT-E003 dbt Cloud artifact cache '\.floe\/dbt-cloud-cache' is a symbolic link/,
      );
    }
    assert.deepEqual(listing(v.dir), before);
  },
);

Deno.test(
  "daemon: a job keeps its own artifacts; the project route refuses a run_results.json linked outside or to /dev/zero",
  opts,
  async () => {
    await using copy = await copyExample();
    await using v = await victim();
    const state = await Deno.makeTempDir({ prefix: "floe-links-state-" });
    await Deno.writeTextFile(join(state, "token"), TOKEN);
    const d = await startDaemonProcess([
      "--project-root",
      copy.dir,
      "--state-dir",
      join(state, "state"),
      "--token-file",
      join(state, "token"),
    ]);
    const headers = {
      authorization: `Bearer ${TOKEN}`,
      "content-type": "application/json",
    };
    try {
      assert.ok(d.url, d.logs());
      const res = await fetch(`${d.url}/v1/jobs`, {
        method: "POST",
        headers,
        body: JSON.stringify({ command: "seed", project_dir: copy.dir }),
      });
      assert.equal(res.status, 202, await res.clone().text());
      const { id } = await res.json() as Job;
      const job = await waitJob(d, id, ["succeeded", "failed"]);
      assert.equal(job.status, "succeeded", JSON.stringify(job.error));
      const url = `${d.url}/v1/jobs/${id}/artifacts/run_results`;
      const ok = await fetch(url, { headers });
      assert.equal(ok.status, 200);
      assert.ok(Array.isArray((await ok.json()).results));

      const path = join(copy.dir, "target", "run_results.json");
      await Deno.writeTextFile(join(v.dir, "secret.json"), '{"secret": 1}');
      for (const to of [join(v.dir, "secret.json"), "/dev/zero"]) {
        await Deno.remove(path);
        await Deno.symlink(to, path);
        // The job's own copy, kept when it ended, is untouched by the link.
        const own = await fetch(url, { headers });
        assert.equal(own.status, 200);
        assert.ok(Array.isArray((await own.json()).results));
        const bad = await fetch(
          `${d.url}/v1/project/run_results?project_dir=${
            encodeURIComponent(copy.dir)
          }`,
          { headers },
        );
        const body = await bad.json();
        assert.equal(bad.status, 400, JSON.stringify(body));
        assert.equal(body.code, "FLOE-DBT-E003");
        assert.match(
          body.message,
          /artifact '.*target\/run_results\.json' is a symbolic link/,
        );
        assert.match(
          body.hint,
          /remove the link '.*target\/run_results\.json'/,
        );
      }
    } finally {
      d.child.kill("SIGTERM");
      await d.exit();
      await Deno.remove(state, { recursive: true }).catch(() => {});
    }
  },
);

Deno.test(
  "run-results: a regular target/run_results.json is read as before",
  async () => {
    await using copy = await copyExample();
    await writeFile(copy.dir, "target/run_results.json", '{"results": []}');
    const r = await runAgent([
      "run-results",
      "--project-dir",
      copy.dir,
      "--json",
    ]);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(JSON.parse(r.stdout).results, []);
  },
);
