/**
 * Secrets stay where they belong: dbt (local, fusion, SQLFluff) cannot read
 * the agent's secrets with env_var(); token-carrying URLs must be https
 * except loopback; lineage redirects never carry the Authorization header;
 * the CLI says when it picked up ./manifest.yaml by itself.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import type { LineageConfig } from "../src/config/config.ts";
import { runEvent } from "../src/lineage/events.ts";
import { sendEvent } from "../src/lineage/transport.ts";
import { isSecureUrl } from "../src/os/url.ts";
import { CWD_CONFIG_NOTICE } from "../src/cli/app.ts";
import { copyExample, ROOT, runAgent, writeFile } from "./_helpers.ts";

const PYTHON = join(ROOT, ".venv", "dbt-core", "bin", "python");

/** What the agent's environment holds: secrets, plus one ordinary variable. */
const AGENT_ENV = {
  FLOE_SECRET_TEST_X: "leaked-secret-x",
  FLOE_DBT_TOKEN: "leaked-daemon-token-0123456789",
  FLOE_SECRETS_DIR: "/tmp/leaked-secrets-dir",
  DBT_CLOUD_API_TOKEN: "leaked-dbtc-token",
  FLOE_TEST_VISIBLE: "seen",
};

const PROBE = `select
  '{{ env_var("FLOE_SECRET_TEST_X", "absent") }}' as secret_x,
  '{{ env_var("FLOE_DBT_TOKEN", "absent") }}' as daemon_token,
  '{{ env_var("FLOE_SECRETS_DIR", "absent") }}' as secrets_dir,
  '{{ env_var("DBT_CLOUD_API_TOKEN", "absent") }}' as cloud_token,
  '{{ env_var("FLOE_TEST_VISIBLE", "absent") }}' as visible
`;

/** The probe row as the runtime left it in the project's DuckDB file. */
async function probeRow(dir: string): Promise<unknown> {
  const out = await new Deno.Command(PYTHON, {
    args: [
      "-c",
      "import duckdb, json, sys\n" +
      "c = duckdb.connect(sys.argv[1], read_only=True)\n" +
      "cur = c.execute('select * from secret_probe')\n" +
      "print(json.dumps(dict(zip([d[0] for d in cur.description], cur.fetchone()))))",
      join(dir, ".floe", "jaffle_duck.duckdb"),
    ],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const dec = new TextDecoder();
  assert.equal(out.code, 0, dec.decode(out.stderr));
  return JSON.parse(dec.decode(out.stdout));
}

const EXPECTED_ROW = {
  secret_x: "absent",
  daemon_token: "absent",
  secrets_dir: "absent",
  cloud_token: "absent",
  visible: "seen",
};

for (const runtime of ["local", "fusion"]) {
  Deno.test(`${runtime}: a model's env_var() cannot read FLOE_SECRET_*, the daemon or dbt Cloud token`, async () => {
    await using copy = await copyExample(`floe-secrets-${runtime}-`);
    await writeFile(copy.dir, "models/secret_probe.sql", PROBE);
    const r = await runAgent([
      "run",
      "--runtime",
      runtime,
      "--project-dir",
      copy.dir,
      "--profiles-dir",
      copy.dir,
      "-s",
      "secret_probe",
      "--json",
    ], { env: AGENT_ENV });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(JSON.parse(r.stdout).success, true, r.stdout);
    assert.deepEqual(await probeRow(copy.dir), EXPECTED_ROW);
    if (runtime === "local") {
      const compiled = await Deno.readTextFile(
        join(copy.dir, "target/compiled/jaffle_duck/models/secret_probe.sql"),
      );
      assert.match(compiled, /'absent' as secret_x/);
      assert.doesNotMatch(compiled, /leaked/);
    }
    assert.doesNotMatch(r.stdout + r.stderr, /leaked/);
  });
}

Deno.test("local lint: SQLFluff's dbt templater renders without the agent's secrets", async () => {
  await using copy = await copyExample("floe-secrets-lint-");
  // dbt fails to render the model only when the variable is visible, and
  // SQLFluff then skips the file; otherwise it lints it (the long line is an
  // LT05 issue, proof the file was rendered and linted).
  const probe = (name: string) =>
    `select 1 as v{{ exceptions.raise_compiler_error("visible") if execute and env_var("${name}", "absent") != "absent" else "" }}\n`;
  await writeFile(
    copy.dir,
    "models/lint_secret.sql",
    probe("FLOE_SECRET_TEST_X"),
  );
  await writeFile(
    copy.dir,
    "models/lint_visible.sql",
    probe("FLOE_TEST_VISIBLE"),
  );
  const r = await runAgent([
    "lint",
    "--runtime",
    "local",
    "--project-dir",
    copy.dir,
    "--profiles-dir",
    copy.dir,
    "-s",
    "models/lint_secret.sql",
    "-s",
    "models/lint_visible.sql",
    "--json",
  ], { env: AGENT_ENV });
  const result = JSON.parse(r.stdout) as {
    issues: { file_path: string; rule_code: string }[];
  };
  const files = new Set(result.issues.map((i) => i.file_path));
  // The ordinary variable reached dbt: rendering failed, the file was skipped
  // (so the probe can tell) ...
  assert.ok(!files.has("models/lint_visible.sql"), r.stdout + r.stderr);
  // ... the secret did not: the file rendered and was linted.
  assert.ok(files.has("models/lint_secret.sql"), r.stdout + r.stderr);
  assert.equal(r.code, 1, r.stderr);
});

async function writeConfig(text: string) {
  const dir = await Deno.makeTempDir({ prefix: "floe-secrets-cfg-" });
  const file = join(dir, "manifest.yaml");
  await Deno.writeTextFile(file, text);
  return {
    dir,
    file,
    async [Symbol.asyncDispose]() {
      await Deno.remove(dir, { recursive: true });
    },
  };
}

const cloudConfig = (base: string, discovery = "") =>
  `plugins:
  dbt_runtime: cloud
  dbt_runtime_config:
    cloud:
      account_id: 1
      api_token_ref: tok
      base_url: ${base}
${
    discovery
      ? `      discovery_url: ${discovery}\n`
      : ""
  }      job_ids: { run: 2 }
`;
const lineageConfig = (url: string) =>
  `plugins:
  lineage:
    url: ${url}
`;

Deno.test("config validate: http:// dbt Cloud and lineage URLs are E003 naming file, key and value", async () => {
  const cases: [string, string, string][] = [
    [
      cloudConfig("http://acme.us1.dbt.com"),
      "plugins.dbt_runtime_config.cloud.base_url",
      "http://acme.us1.dbt.com",
    ],
    [
      cloudConfig(
        "https://acme.us1.dbt.com",
        "http://acme.metadata.us1.dbt.com/graphql",
      ),
      "plugins.dbt_runtime_config.cloud.discovery_url",
      "http://acme.metadata.us1.dbt.com/graphql",
    ],
    [
      lineageConfig("http://marquez:5000/api/v1/lineage"),
      "plugins.lineage.url",
      "http://marquez:5000/api/v1/lineage",
    ],
    [
      lineageConfig("ftp://127.0.0.1/lineage"),
      "plugins.lineage.url",
      "ftp://127.0.0.1/lineage",
    ],
  ];
  for (const [text, key, value] of cases) {
    await using c = await writeConfig(text);
    const r = await runAgent(["config", "validate", c.file]);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /FLOE-DBT-E003/);
    assert.ok(r.stderr.includes(c.file), r.stderr);
    assert.ok(r.stderr.includes(`key '${key}'`), r.stderr);
    assert.ok(r.stderr.includes(JSON.stringify(value)), r.stderr);
    assert.match(r.stderr, /must use https/);
    assert.match(r.stderr, /hint: change the URL to https:\/\//);
  }
});

Deno.test("config validate: https and http to loopback hosts are accepted", async () => {
  for (
    const text of [
      cloudConfig("http://127.0.0.1:8080", "http://[::1]:8081/graphql"),
      cloudConfig("https://acme.us1.dbt.com"),
      lineageConfig("http://localhost:5000/api/v1/lineage"),
      lineageConfig("http://127.0.0.2:5000/api/v1/lineage"),
      lineageConfig("https://marquez.example.com/api/v1/lineage"),
    ]
  ) {
    await using c = await writeConfig(text);
    // config validate also resolves the secret references.
    const r = await runAgent(["config", "validate", c.file], {
      env: { FLOE_SECRET_TOK: "x".repeat(20), FLOE_SECRET_KEY: "y" },
    });
    assert.equal(r.code, 0, r.stderr + text);
  }
});

Deno.test("isSecureUrl: https anywhere, http only to loopback", () => {
  assert.equal(isSecureUrl("https://x.example.com/a"), true);
  assert.equal(isSecureUrl("http://127.0.0.1:1/a"), true);
  assert.equal(isSecureUrl("http://LOCALHOST/a"), true);
  assert.equal(isSecureUrl("http://[::1]/a"), true);
  assert.equal(isSecureUrl("http://x.example.com/a"), false);
  assert.equal(isSecureUrl("http://128.0.0.1/a"), false);
  assert.equal(isSecureUrl("http://127.0.0.1.example.com/a"), false);
  assert.equal(isSecureUrl("http://localhost.example.com/a"), false);
  assert.equal(isSecureUrl("file:///etc/passwd"), false);
  assert.equal(isSecureUrl("not a url"), false);
});

function event() {
  return runEvent({
    namespace: "floe-dbt",
    jobName: "secrets.redirect",
    runId: crypto.randomUUID(),
  }, "START");
}

Deno.test("lineage: a redirect to another host is not followed; no Authorization arrives there", async () => {
  const seen: { auth: string | null; path: string }[] = [];
  const other = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen: () => {} },
    async (req) => {
      await req.body?.cancel();
      seen.push({
        auth: req.headers.get("authorization"),
        path: new URL(req.url).pathname,
      });
      return new Response("{}");
    },
  );
  let first = 0;
  const redirector = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen: () => {} },
    async (req) => {
      await req.body?.cancel();
      first++;
      return new Response(null, {
        status: 307,
        headers: {
          location: `http://127.0.0.1:${other.addr.port}/steal`,
        },
      });
    },
  );
  Deno.env.set("FLOE_SECRET_SECRETS_TEST_LINEAGE", "lineage-api-key");
  try {
    const config: LineageConfig = {
      url: `http://127.0.0.1:${redirector.addr.port}/api/v1/lineage`,
      namespace: "floe-dbt",
      timeout_seconds: 5,
      api_key_ref: "secrets-test-lineage",
    };
    const error = await sendEvent(config, event());
    assert.equal(first, 1);
    assert.match(error ?? "", /HTTP 307 .*not followed/);
    assert.deepEqual(seen, []);
  } finally {
    Deno.env.delete("FLOE_SECRET_SECRETS_TEST_LINEAGE");
    await redirector.shutdown();
    await other.shutdown();
  }
});

Deno.test("lineage: an http URL to a non-loopback host is refused before any request", async () => {
  const error = await sendEvent({
    url: "http://lineage.invalid/api/v1/lineage",
    namespace: "floe-dbt",
    timeout_seconds: 5,
  }, event());
  assert.match(error ?? "", /must use https/);
});

Deno.test("cli: ./manifest.yaml picked up without --config is said on stderr, never on stdout", async () => {
  await using c = await writeConfig("plugins:\n  dbt_runtime: local\n");
  const r = await runAgent(["runtimes", "--json"], { cwd: c.dir });
  assert.equal(r.code, 0, r.stderr);
  assert.ok(Array.isArray(JSON.parse(r.stdout)));
  assert.equal(
    r.stderr.split("\n").filter((l) => l === CWD_CONFIG_NOTICE).length,
    1,
    r.stderr,
  );
  assert.match(CWD_CONFIG_NOTICE, /using platform config \.\/manifest\.yaml/);
  const json = await runAgent(["runtimes", "--json", "--log-format", "json"], {
    cwd: c.dir,
  });
  const lines = json.stderr.trim().split("\n");
  assert.deepEqual(lines.map((l) => JSON.parse(l)), [
    { level: "info", message: CWD_CONFIG_NOTICE },
  ]);
  const explicit = await runAgent(
    ["runtimes", "--json", "--config", c.file],
    { cwd: c.dir },
  );
  assert.equal(explicit.code, 0, explicit.stderr);
  assert.doesNotMatch(explicit.stderr, /using platform config/);
});
