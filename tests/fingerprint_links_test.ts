/**
 * The warm worker's fingerprint follows symbolic links (a monorepo's shared
 * models linked into the project), so a change behind a link is a change,
 * and a link cycle does not hang it. Real dbt-core and DuckDB.
 */
import assert from "node:assert/strict";
import { projectFingerprint } from "../runtimes/local/fingerprint.ts";
import { LocalRuntime } from "../runtimes/local/mod.ts";
import { copyExample, ROOT } from "./_helpers.ts";
import { join } from "./_path.ts";

const opts = { sanitizeResources: false, sanitizeOps: false };
const PYTHON = join(ROOT, ".venv", "dbt-core", "bin", "python");

/** Query the project's DuckDB file with the duckdb module of the venv. */
async function query(projectDir: string, sql: string): Promise<unknown> {
  const out = await new Deno.Command(PYTHON, {
    args: [
      "-c",
      "import duckdb, json, sys\n" +
      "con = duckdb.connect(sys.argv[1], read_only=True)\n" +
      "print(json.dumps(con.execute(sys.argv[2]).fetchall()))",
      join(projectDir, ".floe", "jaffle_duck.duckdb"),
      sql,
    ],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const dec = new TextDecoder();
  assert.equal(out.code, 0, dec.decode(out.stderr));
  return JSON.parse(dec.decode(out.stdout));
}

Deno.test(
  "warm worker: a model behind a linked folder or file changes, the new SQL runs; link cycles end",
  opts,
  async () => {
    await using copy = await copyExample("floe-fp-links-");
    const monorepo = await Deno.makeTempDir({ prefix: "floe-monorepo-" });
    const shared = join(monorepo, "shared", "models");
    await Deno.mkdir(shared, { recursive: true });
    await Deno.writeTextFile(
      join(shared, "shared_value.sql"),
      "select 1 as v\n",
    );
    await Deno.writeTextFile(
      join(monorepo, "linked_file.sql"),
      "select 'first' as s\n",
    );
    // A cycle behind the link and one inside the project itself.
    await Deno.symlink(shared, join(shared, "loop"));
    await Deno.symlink(
      join(copy.dir, "models"),
      join(copy.dir, "models", "self"),
    );
    // The shared folder is a model path of the project (dbt-core walks a
    // linked model path), and one model file is a link.
    await Deno.symlink(shared, join(copy.dir, "shared"));
    await Deno.symlink(
      join(monorepo, "linked_file.sql"),
      join(copy.dir, "models", "linked_file.sql"),
    );
    const yml = join(copy.dir, "dbt_project.yml");
    await Deno.writeTextFile(
      yml,
      (await Deno.readTextFile(yml)).replace(
        'model-paths: ["models"]',
        'model-paths: ["models", "shared"]',
      ),
    );
    const project = { projectDir: copy.dir, profilesDir: copy.dir };
    const select = { select: ["shared_value", "linked_file"] };
    const rt = new LocalRuntime();
    try {
      let r = await rt.execute("run", project, select);
      assert.equal(r.success, true, JSON.stringify(r.metadata.errors));
      assert.equal(r.models_run, 2);
      assert.deepEqual(await query(copy.dir, "select v from shared_value"), [
        [1],
      ]);
      assert.deepEqual(await query(copy.dir, "select s from linked_file"), [
        ["first"],
      ]);

      r = await rt.execute("run", project, select);
      assert.equal(r.metadata.reused_manifest, true, "nothing changed");

      await Deno.writeTextFile(
        join(shared, "shared_value.sql"),
        "select 22 as v\n",
      );
      await Deno.writeTextFile(
        join(monorepo, "linked_file.sql"),
        "select 'second one' as s\n",
      );
      r = await rt.execute("run", project, select);
      assert.equal(r.success, true, JSON.stringify(r.metadata.errors));
      assert.equal(r.metadata.reused_manifest, false, "the change is seen");
      assert.deepEqual(await query(copy.dir, "select v from shared_value"), [
        [22],
      ]);
      assert.deepEqual(await query(copy.dir, "select s from linked_file"), [
        ["second one"],
      ]);
    } finally {
      await rt.close();
      await Deno.remove(monorepo, { recursive: true });
    }
  },
);

Deno.test("projectFingerprint: retargeting a link changes it, a cycle of links ends", async () => {
  const dir = await Deno.makeTempDir({ prefix: "floe-fp-unit-" });
  try {
    await Deno.mkdir(join(dir, "a", "b"), { recursive: true });
    await Deno.mkdir(join(dir, "other"));
    await Deno.writeTextFile(join(dir, "a", "b", "m.sql"), "select 1");
    await Deno.writeTextFile(join(dir, "other", "m.sql"), "select 1");
    await Deno.symlink(join(dir, "a"), join(dir, "a", "b", "up"));
    await Deno.symlink(join(dir, "a", "b"), join(dir, "a", "b", "here"));
    await Deno.symlink(join(dir, "a"), join(dir, "link"));
    const fp = () => projectFingerprint(dir, dir, [], {});
    const first = await fp();
    assert.equal(await fp(), first, "stable");
    await Deno.remove(join(dir, "link"));
    await Deno.symlink(join(dir, "other"), join(dir, "link"));
    assert.notEqual(await fp(), first, "a retargeted link is a change");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
