/**
 * What can be checked of the Containerfile and deploy/ without a container
 * engine: the sources it copies exist, the versions match scripts/setup, the
 * image's CMD and the Kubernetes args parse with the agent's CLI parser, the
 * YAML parses, and the health check and probes answer on a real daemon.
 *
 * @module
 */
import assert from "node:assert/strict";
import { parseAllDocuments } from "yaml";
import { parseCli } from "../src/cli/args.ts";
import { parseConfig } from "../src/config/config.ts";
import { startDaemonProcess } from "./_daemon.ts";
import { ROOT } from "./_helpers.ts";
import { join } from "./_path.ts";

const opts = { sanitizeResources: false, sanitizeOps: false };

interface Instruction {
  op: string;
  args: string;
  stage: number;
}

/** Containerfile instructions, continuation lines joined, comments dropped. */
async function containerfile(): Promise<Instruction[]> {
  const text = await Deno.readTextFile(join(ROOT, "Containerfile"));
  const out: Instruction[] = [];
  let stage = -1;
  let cur = "";
  for (const raw of text.split("\n")) {
    if (/^\s*#/.test(raw)) continue;
    cur += raw.replace(/\\$/, " ");
    if (raw.endsWith("\\")) continue;
    const m = cur.trim().match(/^([A-Z]+)\s+([\s\S]*)$/);
    cur = "";
    if (!m) continue;
    if (m[1] === "FROM") stage++;
    out.push({ op: m[1]!, args: m[2]!.trim(), stage });
  }
  return out;
}

function one(ins: Instruction[], op: string): Instruction {
  const found = ins.filter((i) => i.op === op);
  assert.equal(found.length, 1, `exactly one ${op}`);
  return found[0]!;
}

function env(ins: Instruction[]): Record<string, string> {
  const vars: Record<string, string> = {};
  for (const i of ins.filter((i) => i.op === "ENV")) {
    for (const m of i.args.matchAll(/(\w+)=(\S+)/g)) vars[m[1]!] = m[2]!;
  }
  return vars;
}

/** A map-like env for parseCli. */
function envOf(vars: Record<string, string>) {
  return { get: (k: string) => vars[k] };
}

Deno.test(
  "packaging: Containerfile is multi-stage; every COPY source exists; versions match scripts/setup",
  async () => {
    const ins = await containerfile();
    const froms = ins.filter((i) => i.op === "FROM");
    assert.equal(froms.length, 2, "a build stage and a runtime stage");
    assert.match(froms[0]!.args, / AS build$/);
    const setup = await Deno.readTextFile(join(ROOT, "scripts", "setup"));
    const denoVersion = setup.match(/^DENO_VERSION=(\S+)/m)![1]!;
    const duckdb = setup.match(/^DUCKDB_NODE_BINDINGS=(\S+)/m)![1]!;
    const runs = ins.filter((i) => i.op === "RUN").map((i) => i.args).join(
      "\n",
    );
    assert.ok(runs.includes(`deno@${denoVersion}`), "Deno version of setup");
    assert.ok(
      runs.includes(`@duckdb/node-bindings-linux-x64@${duckdb}`),
      "DuckDB driver version of setup",
    );
    // The build stage runs `deno task compile`, which writes dist/floe-dbt.
    const tasks = JSON.parse(
      await Deno.readTextFile(join(ROOT, "deno.json")),
    ).tasks as Record<string, { command: string }>;
    assert.ok(runs.includes("deno task compile"));
    assert.match(tasks.compile!.command, /--output dist\/floe-dbt main\.ts$/);
    // The runtime stage installs exactly the lock files setup installs.
    for (
      const lock of ["requirements/dbt-core.lock", "requirements/fusion.lock"]
    ) {
      assert.ok(runs.includes(`-r ${lock}`), lock);
      assert.ok(setup.includes(`-r ${lock}`), `setup also uses ${lock}`);
    }
    let copies = 0;
    for (const c of ins.filter((i) => i.op === "COPY")) {
      const words = c.args.split(/\s+/);
      const from = words.find((w) => w.startsWith("--from="));
      const paths = words.filter((w) => !w.startsWith("--"));
      const sources = paths.slice(0, -1);
      if (from) {
        assert.equal(from, "--from=build");
        for (const s of sources) {
          assert.ok(
            s === "/out/floe-dbt" || s === "/out/app/" ||
              s.startsWith("/tmp/duckdb/node_modules/@duckdb/"),
            `a path the build stage makes: ${s}`,
          );
        }
        continue;
      }
      for (const s of sources) {
        await Deno.stat(join(ROOT, s)); // throws when missing
        copies++;
      }
    }
    assert.ok(copies >= 5, "the build context sources were checked");
  },
);

Deno.test(
  "packaging: the image runs serve as non-root under tini; its CMD parses with the CLI",
  async () => {
    const ins = await containerfile();
    const runtime = ins.filter((i) => i.stage === 1);
    const user = one(runtime, "USER").args;
    assert.notEqual(user, "root");
    assert.notEqual(user, "0");
    const entry = JSON.parse(one(runtime, "ENTRYPOINT").args) as string[];
    assert.deepEqual(entry.slice(0, 2), ["/usr/bin/tini", "--"]);
    assert.ok(
      runtime.some((i) => i.op === "RUN" && /install .*\btini\b/.test(i.args)),
    );
    const copied = runtime.find((i) =>
      i.op === "COPY" && i.args.endsWith(` ${entry[2]}`)
    );
    assert.ok(copied, "the entry point is the compiled agent");
    const vars = env(runtime);
    assert.equal(vars.FLOE_SECRETS_DIR, "/var/run/secrets/floe");
    assert.equal(vars.FLOE_DBT_HOME, "/opt/floe-dbt");
    const cmd = JSON.parse(one(runtime, "CMD").args) as string[];
    const args = parseCli(cmd, envOf(vars));
    assert.equal(args.command, "serve");
    assert.equal(args.host, "0.0.0.0");
    assert.equal(
      args.port,
      Number(vars.FLOE_DBT_PORT),
      "port from FLOE_DBT_PORT",
    );
    assert.equal(one(runtime, "EXPOSE").args, vars.FLOE_DBT_PORT);
    assert.ok(args.tokenRef, "0.0.0.0 needs a token: --token-ref");
    assert.deepEqual(args.projectRoots, ["/work/projects"]);
    // A different port is one environment variable away.
    assert.equal(
      parseCli(cmd, envOf({ ...vars, FLOE_DBT_PORT: "9999" })).port,
      9999,
    );
    assert.match(one(runtime, "HEALTHCHECK").args, /\/healthz/);
  },
);

interface K8sContainer {
  name: string;
  args?: string[];
  env?: { name: string; value?: string }[];
  readinessProbe: { httpGet: { path: string; port: number } };
  livenessProbe: { httpGet: { path: string; port: number } };
  volumeMounts: { name: string; mountPath: string }[];
}

async function deployDocs() {
  const text = await Deno.readTextFile(
    join(ROOT, "deploy", "floe-dbt-sidecar.yaml"),
  );
  const docs = parseAllDocuments(text);
  assert.ok(Array.isArray(docs));
  for (const d of docs) assert.deepEqual(d.errors, [], "YAML parses");
  // deno-lint-ignore no-explicit-any
  return docs.map((d) => d.toJS() as any);
}

Deno.test(
  "packaging: deploy/ runs the agent as a sidecar sharing the project volume, token from a Secret",
  async () => {
    const docs = await deployDocs();
    const kinds = docs.map((d) => d.kind).sort();
    assert.deepEqual(kinds, ["ConfigMap", "Deployment", "Secret"]);
    const secret = docs.find((d) => d.kind === "Secret");
    const config = docs.find((d) => d.kind === "ConfigMap");
    const pod = docs.find((d) => d.kind === "Deployment").spec.template.spec;
    const containers = pod.containers as K8sContainer[];
    assert.equal(containers.length, 2);
    const agent = containers.find((c) => c.name === "floe-dbt")!;
    const other = containers.find((c) => c.name !== "floe-dbt")!;
    const vars = Object.fromEntries(
      (agent.env ?? []).map((e) => [e.name, e.value ?? ""]),
    );
    const args = parseCli(agent.args!, envOf(vars));
    assert.equal(args.command, "serve");
    assert.ok(args.tokenRef);
    // The token ref is a key of the Secret, mounted where the agent looks.
    assert.ok(args.tokenRef in secret.stringData);
    assert.ok(secret.stringData[args.tokenRef].length >= 16);
    const mountOf = (c: K8sContainer, volume: string) =>
      c.volumeMounts.find((m) => m.name === volume)?.mountPath;
    const secretVolume = pod.volumes.find((v: { secret?: unknown }) =>
      v.secret
    );
    assert.equal(secretVolume.secret.secretName, secret.metadata.name);
    assert.equal(mountOf(agent, secretVolume.name), "/var/run/secrets/floe");
    // Both containers share the project volume; jobs are confined to it.
    const projects = pod.volumes.find((v: { name: string }) =>
      mountOf(agent, v.name) === args.projectRoots[0]
    );
    assert.ok(projects, "--project-root is a mounted volume");
    assert.equal(mountOf(other, projects.name), args.projectRoots[0]);
    // Probes use the port the agent listens on.
    assert.equal(agent.readinessProbe.httpGet.port, args.port);
    assert.equal(agent.livenessProbe.httpGet.port, args.port);
    assert.equal(agent.readinessProbe.httpGet.path, "/readyz");
    assert.equal(agent.livenessProbe.httpGet.path, "/healthz");
    // The mounted platform config is valid, and sits where --config points.
    const cfgVolume = pod.volumes.find((v: { configMap?: unknown }) =>
      v.configMap
    );
    assert.equal(
      `${mountOf(agent, cfgVolume.name)}/manifest.yaml`,
      args.config,
    );
    const parsed = parseConfig(config.data["manifest.yaml"], "ConfigMap");
    assert.equal(parsed.plugins.dbt_runtime, "local");
  },
);

Deno.test(
  "packaging: the probes and the image's HEALTHCHECK answer on a daemon started like the image",
  opts,
  async () => {
    const tmp = await Deno.makeTempDir({ prefix: "floe-packaging-" });
    await Deno.mkdir(join(tmp, "secrets"));
    await Deno.mkdir(join(tmp, "projects"));
    await Deno.writeTextFile(
      join(tmp, "secrets", "floe-dbt-token"),
      "a-long-random-token-for-the-test\n",
    );
    const ins = await containerfile();
    const cmd = JSON.parse(one(ins, "CMD").args) as string[];
    const args = cmd.slice(1).map((a) =>
      a === "/work/projects" ? join(tmp, "projects") : a
    );
    const d = await startDaemonProcess(
      [...args, "--state-dir", join(tmp, "state")],
      { FLOE_SECRETS_DIR: join(tmp, "secrets") },
    );
    try {
      const port = new URL(d.url).port;
      const base = `http://127.0.0.1:${port}`;
      const deploy = await deployDocs();
      const agent = (deploy.find((x) => x.kind === "Deployment").spec.template
        .spec.containers as K8sContainer[]).find((c) => c.name === "floe-dbt")!;
      for (const probe of [agent.readinessProbe, agent.livenessProbe]) {
        const res = await fetch(`${base}${probe.httpGet.path}`);
        await res.body?.cancel();
        assert.equal(res.status, 200, probe.httpGet.path);
      }
      // Everything else needs the token (the daemon listens on 0.0.0.0).
      const denied = await fetch(`${base}/v1/jobs`);
      await denied.body?.cancel();
      assert.equal(denied.status, 401);
      // The HEALTHCHECK command itself, with the image's FLOE_DBT_PORT set to
      // this daemon's port, then to a port nobody listens on.
      const hc = one(ins, "HEALTHCHECK").args.replace(/^(--\S+\s+)*CMD\s+/, "");
      const check = (p: string) =>
        new Deno.Command("sh", {
          args: ["-c", hc],
          env: { FLOE_DBT_PORT: p },
          stdout: "null",
          stderr: "null",
        }).output();
      assert.equal((await check(port)).code, 0);
      assert.notEqual((await check("1")).code, 0);
    } finally {
      d.child.kill("SIGTERM");
      assert.equal(await d.exit(), 0);
      await Deno.remove(tmp, { recursive: true });
    }
  },
);
