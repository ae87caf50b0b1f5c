import assert from "node:assert/strict";
import { parseConfig } from "../src/config.ts";
import { FloeDbtError } from "../src/errors.ts";
import { resolveSecret, secretEnvName } from "../src/secrets.ts";

function configError(text: string): FloeDbtError {
  try {
    parseConfig(text, "manifest.yaml");
  } catch (e) {
    assert.ok(e instanceof FloeDbtError);
    assert.equal(e.code, "FLOE-DBT-E003");
    return e;
  }
  throw new Error("expected a config error");
}

Deno.test("config: defaults to the local runtime with the documented defaults", () => {
  const c = parseConfig("plugins:\n  dbt_runtime: local\n", "m.yaml");
  assert.equal(c.plugins.dbt_runtime, "local");
  const full = parseConfig(
    "plugins:\n  dbt_runtime: local\n  dbt_runtime_config:\n    local:\n      lock_timeout_seconds: 10\n",
    "m.yaml",
  );
  assert.equal(full.plugins.dbt_runtime_config.local?.lock_timeout_seconds, 10);
  assert.equal(full.plugins.dbt_runtime_config.local?.max_invocations, 200);
});

Deno.test("config: the seeds' cloud example parses, ids become strings", () => {
  const c = parseConfig(
    `plugins:
  dbt_runtime: cloud
  dbt_runtime_config:
    cloud:
      account_id: "12345"
      api_token_ref: "dbt-cloud-api-token"
      base_url: "https://cloud.getdbt.com/api/v2"
      job_ids:
        compile: 67890
        run: 67891
        test: 67892
      poll_interval_seconds: 5
      timeout_seconds: 3600
`,
    "m.yaml",
  );
  assert.equal(c.plugins.dbt_runtime_config.cloud?.account_id, "12345");
  assert.equal(c.plugins.dbt_runtime_config.cloud?.job_ids.run, "67891");
});

Deno.test("config: cloud without its section names the key and line", () => {
  const e = configError("plugins:\n  dbt_runtime: cloud\n");
  assert.match(e.message, /manifest\.yaml:2:16/);
  assert.match(e.message, /dbt_runtime_config\.cloud is missing/);
});

Deno.test("config: an unknown runtime names the value, line and column", () => {
  const e = configError("plugins:\n  dbt_runtime: spark\n");
  assert.match(e.message, /manifest\.yaml:2:16/);
  assert.match(e.message, /plugins\.dbt_runtime/);
  assert.match(e.message, /"spark"/);
  assert.equal(e.details.line, 2);
});

Deno.test("config: a wrong type names the key path and position", () => {
  const e = configError(
    "plugins:\n  dbt_runtime: local\n  dbt_runtime_config:\n    local:\n      lock_timeout_seconds: soon\n",
  );
  assert.match(e.message, /manifest\.yaml:5:29/);
  assert.match(
    e.message,
    /plugins\.dbt_runtime_config\.local\.lock_timeout_seconds/,
  );
  assert.match(e.message, /"soon"/);
});

Deno.test("config: an unknown key (a typo) is reported with its position", () => {
  const e = configError(
    "plugins:\n  dbt_runtime: local\n  dbt_runtime_config:\n    local:\n      lock_timeout_secs: 5\n",
  );
  assert.match(e.message, /unknown key 'lock_timeout_secs'/);
  assert.match(e.message, /manifest\.yaml:5:/);
});

Deno.test("config: invalid YAML gives line and column", () => {
  const e = configError("plugins:\n  dbt_runtime: [local\n");
  assert.match(e.message, /Invalid YAML in manifest\.yaml:\d+:\d+/);
});

Deno.test("config: parallel_execution true for local is refused with the reason", () => {
  const e = configError(
    "plugins:\n  dbt_runtime_config:\n    local:\n      parallel_execution: true\n",
  );
  assert.match(e.message, /not safe to run in parallel/);
});

Deno.test("secrets: file first, then FLOE_SECRET_*, else E003 naming both places", async () => {
  const dir = await Deno.makeTempDir();
  const prevDir = Deno.env.get("FLOE_SECRETS_DIR");
  Deno.env.set("FLOE_SECRETS_DIR", dir);
  try {
    assert.equal(
      secretEnvName("dbt-cloud.token"),
      "FLOE_SECRET_DBT_CLOUD_TOKEN",
    );
    Deno.env.set("FLOE_SECRET_MY_TOKEN", "from-env");
    assert.equal(await resolveSecret("my-token"), "from-env");
    await Deno.writeTextFile(`${dir}/my-token`, "from-file\n");
    assert.equal(await resolveSecret("my-token"), "from-file");
    await assert.rejects(() => resolveSecret("absent"), (e: unknown) => {
      assert.ok(e instanceof FloeDbtError);
      assert.equal(e.code, "FLOE-DBT-E003");
      assert.ok(e.message.includes(`${dir}/absent`));
      assert.ok(e.message.includes("FLOE_SECRET_ABSENT"));
      return true;
    });
  } finally {
    Deno.env.delete("FLOE_SECRET_MY_TOKEN");
    if (prevDir) Deno.env.set("FLOE_SECRETS_DIR", prevDir);
    else Deno.env.delete("FLOE_SECRETS_DIR");
    await Deno.remove(dir, { recursive: true });
  }
});
