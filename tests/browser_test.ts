/**
 * A real headless Chromium against a running daemon: a page from another
 * local origin tries what a malicious web page would (a no-cors fetch POST,
 * HTML form POSTs as text/plain and urlencoded, a JSON fetch), and a
 * DNS-rebinding-style navigation reaches the daemon under a foreign name.
 * Nothing gets through; the daemon's log shows each refusal.
 * scripts/setup --tests installs Debian's chromium.
 *
 * @module
 */
import assert from "node:assert/strict";
import type { Job } from "../src/jobs/schemas.ts";
import { type DaemonProcess, startDaemonProcess, until } from "./_daemon.ts";
import { join } from "./_path.ts";

const opts = { sanitizeResources: false, sanitizeOps: false };
const CHROMIUM = Deno.env.get("FLOE_TEST_CHROMIUM") ?? "/usr/bin/chromium";

/** Start headless Chromium on `url` with extra flags; stop() kills it. */
async function chromium(
  url: string,
  extra: string[] = [],
  dumpDom = false,
): Promise<{ dom: Promise<string>; stop(): Promise<void> }> {
  try {
    await Deno.stat(CHROMIUM);
  } catch {
    throw new Error(
      `${CHROMIUM} is missing: run scripts/setup --tests (it installs Debian's chromium)`,
    );
  }
  const profile = await Deno.makeTempDir({ prefix: "floe-chromium-" });
  const child = new Deno.Command(CHROMIUM, {
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--no-default-browser-check",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
      "--disable-extensions",
      "--no-proxy-server",
      `--user-data-dir=${profile}`,
      ...extra,
      ...(dumpDom ? ["--dump-dom"] : []),
      url,
    ],
    stdin: "null",
    stdout: "piped",
    stderr: "null",
    detached: true,
  }).spawn();
  const dom = new Response(child.stdout).text();
  let stopped: Promise<void> | undefined;
  return {
    dom,
    stop() {
      stopped ??= (async () => {
        try {
          Deno.kill(-child.pid, "SIGKILL");
        } catch {
          // already gone
        }
        await child.status;
        await dom.catch(() => "");
        await Deno.remove(profile, { recursive: true }).catch(() => {});
      })();
      return stopped;
    },
  };
}

/** The attacker's page: every attempt, then a report back to its own server. */
function attackerPage(daemon: string, projectDir: string): string {
  const job = JSON.stringify({
    command: "build",
    project_dir: projectDir,
    full_refresh: true,
    target: "prod",
  });
  // The classic JSON-over-text/plain form trick: name + "=" + value is JSON.
  const name = job.slice(0, -1) + ',"pad":"';
  return `<!doctype html><html><body>
<form id="plain" method="POST" action="${daemon}/v1/jobs" enctype="text/plain" target="f1">
  <input name='${name}' value='"}'>
</form>
<form id="urlenc" method="POST" action="${daemon}/v1/jobs" target="f2">
  <input name="command" value="build"><input name="project_dir" value="${projectDir}">
</form>
<iframe name="f1"></iframe><iframe name="f2"></iframe>
<script>
const results = {};
const job = ${JSON.stringify(job)};
function loaded(frame) {
  return new Promise((r) => {
    document.querySelector('iframe[name="' + frame + '"]').addEventListener("load", () => r("loaded"), { once: true });
    setTimeout(() => r("timeout"), 5000);
  });
}
(async () => {
  try {
    await fetch("${daemon}/v1/jobs", { method: "POST", mode: "no-cors", headers: { "content-type": "text/plain" }, body: job });
    results.nocors = "sent";
  } catch (e) { results.nocors = "error " + e; }
  try {
    const r = await fetch("${daemon}/v1/jobs", { method: "POST", headers: { "content-type": "application/json" }, body: job });
    results.json = "answered " + r.status;
  } catch (e) { results.json = "blocked " + e; }
  const p1 = loaded("f1"); document.getElementById("plain").submit(); results.plain = await p1;
  const p2 = loaded("f2"); document.getElementById("urlenc").submit(); results.urlenc = await p2;
  await fetch("/done", { method: "POST", body: JSON.stringify(results) });
})();
</script></body></html>`;
}

/** Serve the attacker's page on `port`, open it, return the page's report. */
async function attack(
  d: DaemonProcess,
  projectDir: string,
  port = 0,
): Promise<Record<string, string>> {
  let report!: (r: Record<string, string>) => void;
  const reported = new Promise<Record<string, string>>((r) => (report = r));
  const attacker = Deno.serve(
    { hostname: "127.0.0.1", port, onListen() {} },
    async (req) => {
      const path = new URL(req.url).pathname;
      if (path === "/done") {
        report(JSON.parse(await req.text()));
        return new Response("thanks");
      }
      if (path === "/") {
        return new Response(attackerPage(d.url, projectDir), {
          headers: { "content-type": "text/html" },
        });
      }
      return new Response("", { status: 404 });
    },
  );
  const browser = await chromium(`http://127.0.0.1:${attacker.addr.port}/`);
  try {
    return await reported;
  } finally {
    await browser.stop();
    await attacker.shutdown();
  }
}

async function daemonWorld(extra: string[] = []) {
  const dir = await Deno.makeTempDir({ prefix: "floe-browser-" });
  await Deno.mkdir(join(dir, "proj"));
  const d = await startDaemonProcess([
    "--project-root",
    dir,
    "--state-dir",
    join(dir, "state"),
    ...extra,
  ]);
  assert.ok(d.url, d.logs());
  return {
    dir,
    d,
    async [Symbol.asyncDispose]() {
      d.child.kill("SIGTERM");
      await d.exit();
      await Deno.remove(dir, { recursive: true });
    },
  };
}

async function jobs(d: DaemonProcess): Promise<Job[]> {
  return ((await (await d.fetch("/v1/jobs")).json()) as { jobs: Job[] }).jobs;
}

function refusals(log: string, reason: string, method = "POST"): number {
  return log.split("\n").filter((l) =>
    l.includes(`refused request: ${reason}`) &&
    l.includes(`method=${method} path=/v1/jobs`)
  ).length;
}

Deno.test(
  "browser: a page from another origin cannot start a job (no-cors fetch, text/plain and urlencoded forms, JSON fetch)",
  opts,
  async () => {
    await using w = await daemonWorld();
    const results = await attack(w.d, join(w.dir, "proj"));
    // The page ran every attempt; the JSON one never got an answer to read.
    assert.equal(results.nocors, "sent", JSON.stringify(results));
    assert.match(results.json!, /^blocked/, JSON.stringify(results));
    assert.equal(results.plain, "loaded");
    assert.equal(results.urlenc, "loaded");
    assert.deepEqual(await jobs(w.d), []);
    const log = w.d.logs();
    // no-cors fetch + two forms: refused on their Origin.
    assert.ok(refusals(log, "origin not allowed") >= 3, log);
    // The JSON fetch was preflighted, and the preflight refused.
    assert.ok(refusals(log, "origin not allowed", "OPTIONS") >= 1, log);
    assert.match(log, /origin=http:\/\/127\.0\.0\.1:\d+/);
  },
);

Deno.test(
  "browser: even with the attacker's origin allowed, form and text/plain bodies are 415 and JSON needs the token",
  opts,
  async () => {
    // The operator allowed an origin that turns out to be hostile: the other
    // layers still hold. The origin is known only once the attacker listens,
    // so reserve its port first.
    const probe = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const port = (probe.addr as Deno.NetAddr).port;
    probe.close();
    await using w = await daemonWorld([
      "--allow-origin",
      `http://127.0.0.1:${port}`,
    ]);
    const results = await attack(w.d, join(w.dir, "proj"), port);
    // CORS let the page read the JSON answer: 401, no token.
    assert.equal(results.json, "answered 401", JSON.stringify(results));
    assert.deepEqual(await jobs(w.d), []);
    const log = w.d.logs();
    assert.ok(refusals(log, "content type not JSON") >= 3, log);
    assert.match(
      log,
      /refused request: bearer token .*method=POST path=\/v1\/jobs/,
    );
  },
);

Deno.test(
  "browser: DNS rebinding: a foreign name resolving to the daemon is refused on its Host header",
  opts,
  async () => {
    await using w = await daemonWorld();
    const port = new URL(w.d.url).port;
    // The browser resolves rebind.example to 127.0.0.1, as a rebinding
    // attacker's DNS would after the page loaded.
    const rules = "--host-resolver-rules=MAP rebind.example 127.0.0.1";
    const rebound = await chromium(
      `http://rebind.example:${port}/healthz`,
      [rules],
      true,
    );
    const dom = await rebound.dom;
    await rebound.stop();
    assert.match(dom, /FLOE-DBT-E011/, dom);
    assert.match(dom, /Host 'rebind\.example:\d+' is not this daemon/);
    await until(
      () =>
        Promise.resolve(
          /refused request: host not allowed .*host=rebind\.example/.test(
              w.d.logs(),
            )
            ? true
            : undefined,
        ),
      "the refusal in the daemon log",
    );
    // The same browser, the same daemon, under its own name: answered.
    const direct = await chromium(`http://localhost:${port}/healthz`, [], true);
    const ok = await direct.dom;
    await direct.stop();
    assert.match(ok, /\{"status":"ok"\}/, ok);
  },
);
