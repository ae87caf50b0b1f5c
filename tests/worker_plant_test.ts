/**
 * The warm dbt-core worker cannot be planted (issue 19, item 2): its folder
 * is 0700 and the agent's, a folder others can write is refused, the script
 * is checked (and rewritten) before every start, Python starts isolated so a
 * module dropped beside the script is never imported, and the agent's own
 * environment no longer holds secrets once its config is loaded. Real
 * dbt-core throughout.
 */
import assert from "node:assert/strict";
import { pathToFileURL } from "node:url";
import { join } from "./_path.ts";
import { FloeDbtError } from "../src/contract/errors.ts";
import { Worker, writeScript } from "../runtimes/local/worker.ts";
import { WORKER_PY } from "../runtimes/local/worker_py.ts";
import { copyExample, ROOT, runAgent } from "./_helpers.ts";

const PYTHON = join(ROOT, ".venv", "dbt-core", "bin", "python");
const opts = { sanitizeOps: false, sanitizeResources: false };

/** Run `fn` with FLOE_DBT_CACHE_DIR set to a fresh temp dir. */
async function withCache(
  fn: (cache: string) => Promise<void>,
): Promise<void> {
  const base = await Deno.makeTempDir({ prefix: "floe-worker-plant-" });
  const cache = join(base, "cache");
  const prev = Deno.env.get("FLOE_DBT_CACHE_DIR");
  Deno.env.set("FLOE_DBT_CACHE_DIR", cache);
  try {
    await fn(cache);
  } finally {
    if (prev === undefined) Deno.env.delete("FLOE_DBT_CACHE_DIR");
    else Deno.env.set("FLOE_DBT_CACHE_DIR", prev);
    await Deno.remove(base, { recursive: true }).catch(() => {});
  }
}

const exists = (p: string) => Deno.lstat(p).then(() => true, () => false);
const modeOf = async (p: string) => ((await Deno.stat(p)).mode ?? 0) & 0o777;

Deno.test("the worker's folder is 0700 and its script 0600; the cache folder 0700", async () => {
  await withCache(async (cache) => {
    const script = await writeScript();
    const dir = join(script, "..");
    assert.equal(await modeOf(dir), 0o700);
    assert.equal(await modeOf(script), 0o600);
    assert.equal(await modeOf(cache), 0o700);
    assert.equal((await Deno.stat(dir)).uid, Deno.uid());
    assert.equal(await Deno.readTextFile(script), WORKER_PY);
  });
});

Deno.test("a worker folder left 0755 (by an older agent) is made 0700", async () => {
  await withCache(async () => {
    const script = await writeScript();
    const dir = join(script, "..");
    await Deno.chmod(dir, 0o755);
    assert.equal(await writeScript(), script);
    assert.equal(await modeOf(dir), 0o700);
  });
});

for (const mode of [0o777, 0o775, 0o757]) {
  Deno.test(`a worker folder with mode ${mode.toString(8)} is refused (E003, chmod hint), the worker not started`, async () => {
    await withCache(async () => {
      const script = await writeScript();
      const dir = join(script, "..");
      await Deno.chmod(dir, mode);
      await assert.rejects(() => Worker.start(PYTHON), (e: unknown) => {
        assert.ok(e instanceof FloeDbtError);
        assert.equal(e.code, "FLOE-DBT-E003");
        assert.match(e.message, /worker directory .* is writable by/);
        assert.ok(e.hint?.includes(`chmod 700 ${dir}`), e.hint);
        return true;
      });
      // Refused, not repaired: what was planted there is the operator's call.
      assert.equal(await modeOf(dir), mode);
    });
  });
}

Deno.test("a cache folder others can write is refused (E003)", async () => {
  await withCache(async (cache) => {
    await Deno.mkdir(cache, { recursive: true });
    await Deno.chmod(cache, 0o777);
    await assert.rejects(() => writeScript(), (e: unknown) => {
      assert.ok(e instanceof FloeDbtError);
      assert.equal(e.code, "FLOE-DBT-E003");
      assert.match(
        e.message,
        /cache directory .* writable by group and others/,
      );
      assert.ok(e.hint?.includes(`chmod 700 ${cache}`));
      return true;
    });
  });
});

Deno.test(
  "a changed worker script is rewritten before the next start",
  opts,
  async () => {
    await withCache(async () => {
      const script = await writeScript();
      // Were it run, this script would fail the start.
      await Deno.writeTextFile(script, "raise SystemExit(3)\n");
      const worker = await Worker.start(PYTHON);
      try {
        // The real worker answered: it imported dbt and reports its version.
        assert.match(worker.ready.dbt_version, /^1\.\d+\.\d+/);
        assert.equal(await Deno.readTextFile(script), WORKER_PY);
      } finally {
        await worker.stop();
      }
    });
  },
);

Deno.test("a link planted at the script's name is replaced, not followed", async () => {
  await withCache(async (cache) => {
    const script = await writeScript();
    const target = join(cache, "elsewhere.py");
    await Deno.writeTextFile(target, "print('planted')\n");
    await Deno.remove(script);
    await Deno.symlink(target, script);
    await writeScript();
    const st = await Deno.lstat(script);
    assert.equal(st.isSymlink, false);
    assert.equal(await Deno.readTextFile(script), WORKER_PY);
    assert.equal(await Deno.readTextFile(target), "print('planted')\n");
  });
});

Deno.test(
  "a json.py planted beside the worker script is not imported by a real compile",
  opts,
  async () => {
    await withCache(async (cache) => {
      await using copy = await copyExample("floe-worker-plant-");
      const script = await writeScript();
      const marker = join(cache, "planted-was-imported");
      await Deno.writeTextFile(
        join(script, "..", "json.py"),
        `open(${JSON.stringify(marker)}, "w").write("imported")\n` +
          "raise ImportError('planted json')\n",
      );
      // Without -I the plant runs: the script's folder comes first on sys.path.
      const naive = await new Deno.Command(PYTHON, {
        args: [script],
        stdin: "null",
        stdout: "null",
        stderr: "null",
      }).output();
      assert.notEqual(naive.code, 0);
      assert.equal(await exists(marker), true, "the plant works without -I");
      await Deno.remove(marker);

      const r = await runAgent(
        ["compile", "--project-dir", copy.dir, "--profiles-dir", copy.dir],
        { env: { FLOE_DBT_CACHE_DIR: cache } },
      );
      assert.equal(r.code, 0, r.stderr);
      assert.ok(await exists(join(copy.dir, "target", "manifest.json")));
      assert.equal(await exists(marker), false, "json.py was imported");
    });
  },
);

Deno.test("after the config is loaded the agent's environment holds no secret", async () => {
  const dir = await Deno.makeTempDir({ prefix: "floe-seal-" });
  try {
    await Deno.writeTextFile(
      join(dir, "manifest.yaml"),
      "plugins:\n  dbt_runtime: local\n",
    );
    const probe = join(dir, "probe.ts");
    await Deno.writeTextFile(
      probe,
      `import { loadConfigFile } from ${
        JSON.stringify(
          pathToFileURL(join(ROOT, "src", "config", "config.ts")).href,
        )
      };
import { resolveSecret } from ${
        JSON.stringify(
          pathToFileURL(join(ROOT, "src", "config", "secrets.ts")).href,
        )
      };
const before = Deno.env.get("FLOE_SECRET_X");
await loadConfigFile(${JSON.stringify(join(dir, "manifest.yaml"))});
console.log(JSON.stringify({
  before,
  after: Deno.env.get("FLOE_SECRET_X") ?? null,
  cloud: Deno.env.get("DBT_CLOUD_API_TOKEN") ?? null,
  names: Object.keys(Deno.env.toObject()).filter((k) =>
    k.startsWith("FLOE_SECRET_") || k.startsWith("DBT_CLOUD_")
  ),
  resolved: await resolveSecret("x"),
  visible: Deno.env.get("FLOE_TEST_VISIBLE") ?? null,
}));
`,
    );
    const out = await new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "--allow-all",
        "--quiet",
        "--config",
        join(ROOT, "deno.json"),
        probe,
      ],
      cwd: ROOT,
      env: {
        FLOE_SECRET_X: "sealed-secret-x",
        DBT_CLOUD_API_TOKEN: "sealed-dbtc",
        FLOE_SECRETS_DIR: join(dir, "no-secrets-here"),
        FLOE_TEST_VISIBLE: "seen",
      },
      stdout: "piped",
      stderr: "piped",
    }).output();
    const dec = new TextDecoder();
    assert.equal(out.code, 0, dec.decode(out.stderr));
    assert.deepEqual(JSON.parse(dec.decode(out.stdout)), {
      before: "sealed-secret-x",
      after: null,
      cloud: null,
      names: [],
      resolved: "sealed-secret-x",
      visible: "seen",
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
