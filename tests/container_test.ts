/**
 * The container image, built and run with podman: the Containerfile is built
 * on local Debian-made bases (scripts/setup-container; no registry pull), then
 * run as a non-root user with a read-only root filesystem, the bearer token
 * from a mounted secret file, and the example project on a mounted volume.
 * From the host, through the published port: the health check, a build of the
 * bundled example (dbt-core in the image), its run_results, then SIGTERM while
 * a second build runs: the agent drains it and exits 0 before podman's
 * SIGKILL deadline.
 *
 * Without podman or the local bases this test FAILS (it never skips): run
 * scripts/setup-container. It prints the build time and the image size.
 *
 * @module
 */
import assert from "node:assert/strict";
import type { Job } from "../src/jobs/schemas.ts";
import { RunResultSchema } from "../src/contract/schemas.ts";
import { copyExample, ROOT } from "./_helpers.ts";
import { join } from "./_path.ts";
import {
  containerPrerequisites,
  freePort,
  LIMITS,
  LOCAL_BASES,
  podman,
  podmanOk,
} from "./_podman.ts";

const opts = { sanitizeResources: false, sanitizeOps: false };
const IMAGE = "localhost/floe-dbt:test";
/** The image's user (Containerfile: USER 10001). */
const UID = 10001;
const TOKEN = `container-test-${crypto.randomUUID()}`;
/** The agent's default drain (serve --grace-seconds) is 30 s. */
const STOP_TIMEOUT_SECONDS = 60;
/** The host's CA bundle, for HTTPS from inside the build behind a proxy. */
const CA_BUNDLE = "/etc/ssl/certs/ca-certificates.crt";
const BUILD_CA = "/etc/floe-build-ca.crt";

async function exists(path: string): Promise<boolean> {
  return await Deno.stat(path).then(() => true, () => false);
}

async function buildArgs(): Promise<string[]> {
  const args = [
    "build",
    "--format",
    "docker",
    "--network",
    "host",
    ...LIMITS,
    "--build-arg",
    `BUILD_BASE=${LOCAL_BASES.BUILD_BASE}`,
    "--build-arg",
    `RUNTIME_BASE=${LOCAL_BASES.RUNTIME_BASE}`,
  ];
  if (await exists(CA_BUNDLE)) {
    args.push("-v", `${CA_BUNDLE}:${BUILD_CA}:ro`);
    for (const name of ["NODE_EXTRA_CA_CERTS", "DENO_CERT", "PIP_CERT"]) {
      args.push("--build-arg", `${name}=${BUILD_CA}`);
    }
  }
  return [...args, "-f", join(ROOT, "Containerfile"), "-t", IMAGE, ROOT];
}

/** chmod -R a+rwX: the container's user (uid 10001) writes there. */
async function openUp(dir: string): Promise<void> {
  await Deno.chmod(dir, 0o777);
  for await (const e of Deno.readDir(dir)) {
    const p = join(dir, e.name);
    if (e.isDirectory) await openUp(p);
    else if (e.isFile) await Deno.chmod(p, 0o666);
  }
}

Deno.test(
  "container: the image builds on a local base and serves the example read-only, non-root, token from a secret; SIGTERM drains and exits 0",
  opts,
  async (t) => {
    const missing = await containerPrerequisites();
    if (missing) assert.fail(missing);

    const built = await t.step("the image builds", async () => {
      const started = performance.now();
      await podmanOk(await buildArgs());
      const seconds = (performance.now() - started) / 1000;
      const size = Number(
        (await podmanOk(["image", "inspect", "--format", "{{.Size}}", IMAGE]))
          .trim(),
      );
      console.log(
        `container image ${IMAGE}: built in ${seconds.toFixed(1)} s, ${
          (size / 1e6).toFixed(0)
        } MB`,
      );
      assert.ok(size > 0);
      const health = await podmanOk([
        "image",
        "inspect",
        "--format",
        "{{json .Config.Healthcheck}}",
        IMAGE,
      ]);
      assert.match(health, /healthz/, "HEALTHCHECK kept (--format docker)");
    });

    if (!built) return; // the test has failed already

    const tmp = await Deno.makeTempDir({ prefix: "floe-container-" });
    await using example = await copyExample("floe-container-proj-");
    const name = `floe-dbt-test-${crypto.randomUUID().slice(0, 8)}`;
    const port = freePort();
    const base = `http://127.0.0.1:${port}`;
    const headers = {
      Authorization: `Bearer ${TOKEN}`,
      "Content-Type": "application/json",
    };
    const api = async <T>(path: string, init: RequestInit = {}) => {
      const res = await fetch(`${base}${path}`, {
        ...init,
        headers: { ...headers, ...(init.headers ?? {}) },
      });
      const text = await res.text();
      assert.ok(res.ok, `${path}: ${res.status} ${text}`);
      return JSON.parse(text) as T;
    };
    const submit = (runtime?: string) =>
      api<Job>("/v1/jobs", {
        method: "POST",
        body: JSON.stringify({
          command: "build",
          project_dir: "/work/projects/jaffle",
          ...(runtime ? { runtime } : {}),
        }),
      });
    /** Poll a job until `until` holds (bounded: the loop fails, no timing). */
    const poll = async (id: string, until: (j: Job) => boolean) => {
      for (let i = 0; i < 600; i++) {
        const j = await api<Job>(`/v1/jobs/${id}`);
        if (until(j)) return j;
        await new Promise((r) => setTimeout(r, 500));
      }
      assert.fail(`job ${id} never reached the awaited state`);
    };
    try {
      // The secret (read-only mount), the project and state volumes.
      const secrets = join(tmp, "secrets");
      const projects = join(tmp, "projects");
      const state = join(tmp, "state");
      for (const d of [secrets, projects, state]) await Deno.mkdir(d);
      // The token is the container user's alone (a Kubernetes secret with
      // defaultMode 0400 and that fsGroup/runAsUser), as the daemon off
      // loopback requires. The state volume is open to all, as an emptyDir:
      // the agent keeps its state in a 0700 folder of its own inside it.
      const token = join(secrets, "floe-dbt-token");
      await Deno.writeTextFile(token, `${TOKEN}\n`);
      await Deno.chown(token, UID, UID);
      await Deno.chmod(token, 0o400);
      await Deno.chmod(secrets, 0o755);
      await Deno.rename(example.dir, join(projects, "jaffle"));
      await openUp(projects);
      await Deno.chmod(state, 0o777);

      await t.step("it starts read-only as a non-root user", async () => {
        await podmanOk([
          "run",
          "--detach",
          "--name",
          name,
          ...LIMITS,
          "--user",
          `${UID}:${UID}`,
          "--read-only",
          "--tmpfs",
          "/tmp",
          "-v",
          `${secrets}:/var/run/secrets/floe:ro`,
          "-v",
          `${projects}:/work/projects`,
          "-v",
          `${state}:/var/lib/floe-dbt`,
          "-p",
          `127.0.0.1:${port}:8686`,
          IMAGE,
        ]);
        const inspect = JSON.parse(
          await podmanOk(["container", "inspect", name]),
        )[0];
        assert.equal(inspect.HostConfig.ReadonlyRootfs, true);
        assert.equal(inspect.Config.User, "10001:10001");
        const uid = await podmanOk(["exec", name, "id", "-u"]);
        assert.equal(uid.trim(), "10001");
        const write = await podman(["exec", name, "touch", "/opt/floe-dbt/x"]);
        assert.notEqual(write.code, 0, "the root filesystem is read-only");
        assert.match(write.stderr + write.stdout, /Read-only file system/);
      });

      await t.step(
        "the health check passes; the API needs the token",
        async () => {
          let healthy = false;
          for (let i = 0; i < 120 && !healthy; i++) {
            healthy = (await podman(["healthcheck", "run", name])).code === 0;
            if (!healthy) await new Promise((r) => setTimeout(r, 500));
          }
          assert.ok(healthy, (await podman(["logs", name])).stderr);
          const h = await fetch(`${base}/healthz`);
          assert.equal(h.status, 200);
          assert.deepEqual(await h.json(), { status: "ok" });
          const denied = await fetch(`${base}/v1/jobs`);
          await denied.body?.cancel();
          assert.equal(denied.status, 401);
        },
      );

      await t.step(
        "a build of the example succeeds; its run_results are read back",
        async () => {
          const queued = await submit();
          const job = await poll(
            queued.id,
            (j) => j.status !== "queued" && j.status !== "running",
          );
          assert.equal(job.status, "succeeded", JSON.stringify(job.error));
          assert.equal(job.runtime, "local");
          const result = RunResultSchema.parse(job.result);
          assert.equal(result.models_run, 5);
          assert.equal(result.tests_run, 14);
          const rr = await api<{
            metadata: { dbt_version: string };
            results: { unique_id: string; status: string }[];
          }>(`/v1/jobs/${job.id}/artifacts/run_results`);
          assert.match(
            rr.metadata.dbt_version,
            /^1\./,
            "dbt-core in the image",
          );
          const kinds = rr.results.map((r) => r.unique_id.split(".")[0]);
          assert.equal(kinds.filter((k) => k === "model").length, 5);
          assert.equal(kinds.filter((k) => k === "test").length, 14);
          for (const r of rr.results) {
            assert.ok(["success", "pass"].includes(r.status), r.unique_id);
          }
          // dbt wrote into the mounted project, as the container's user.
          const onHost = JSON.parse(
            await Deno.readTextFile(
              join(projects, "jaffle", "target", "run_results.json"),
            ),
          );
          assert.equal(onHost.results.length, rr.results.length);
        },
      );

      await t.step("the image's dbt Fusion builds it too", async () => {
        const queued = await submit("fusion");
        const job = await poll(
          queued.id,
          (j) => j.status !== "queued" && j.status !== "running",
        );
        assert.equal(job.status, "succeeded", JSON.stringify(job.error));
        const result = RunResultSchema.parse(job.result);
        assert.equal(result.metadata.executed_by, "fusion");
        assert.equal(result.models_run, 5);
      });

      await t.step("SIGTERM drains the running build and exits 0", async () => {
        const queued = await submit();
        const running = await poll(queued.id, (j) => j.status !== "queued");
        assert.equal(running.status, "running", "SIGTERM comes mid-build");
        // podman stop: SIGTERM, then SIGKILL (exit 137) only past the timeout,
        // which is longer than the agent's drain.
        await podmanOk(["stop", "--time", String(STOP_TIMEOUT_SECONDS), name]);
        const code = (await podmanOk([
          "container",
          "inspect",
          "--format",
          "{{.State.ExitCode}}",
          name,
        ])).trim();
        const out = await podman(["logs", name]);
        const logs = out.stdout + out.stderr;
        assert.equal(code, "0", logs);
        assert.match(logs, /shutting down: no new jobs, draining/);
        assert.match(
          logs,
          new RegExp(`job finished {2}job_id=${queued.id} .*status=succeeded`),
        );
        assert.match(logs, /\bstopped\b/);
      });
    } finally {
      await podman(["rm", "--force", "--time", "0", name]);
      await Deno.remove(tmp, { recursive: true }).catch(() => {});
    }
  },
);
