/**
 * The daemon's page in a real headless Chromium (driven over CDP, see
 * _cdp.ts) against a real daemon running real dbt-core on DuckDB: sign-in
 * from `#token=` (and nothing without it), the jobs list with a finished
 * build, a job page's SVG timeline with the example's model names, a
 * running job's timeline growing, cancelling from the page with the
 * keyboard, the history page's sparklines, a narrow window, the page's
 * headers, and a page on another origin that still cannot read or drive
 * anything. Screenshots go to docs/screenshots/ (named in the README).
 *
 * @module
 */
import assert from "node:assert/strict";
import type { Job } from "../src/jobs/schemas.ts";
import { UI_CSP } from "../src/daemon/ui/routes.ts";
import { type Browser, launch, type Page } from "./_cdp.ts";
import {
  type DaemonProcess,
  rawRequest,
  startDaemonProcess,
  waitJob,
} from "./_daemon.ts";
import { copyExample, ROOT, writeFile } from "./_helpers.ts";
import { join } from "./_path.ts";
import { appJsModule } from "../scripts/ui.ts";

const opts = { sanitizeResources: false, sanitizeOps: false };
const SHOTS = join(ROOT, "docs", "screenshots");
const MODELS = ["stg_customers", "stg_orders", "customers", "orders"];

/** A project whose models run one at a time, the last one for minutes. */
async function slowProject(dir: string): Promise<void> {
  await writeFile(
    dir,
    "dbt_project.yml",
    'name: slowpoke\nversion: "1.0"\nconfig-version: 2\nprofile: slowpoke\n',
  );
  await writeFile(
    dir,
    "profiles.yml",
    "slowpoke:\n  target: dev\n  outputs:\n    dev:\n      type: duckdb\n      path: slow.duckdb\n      threads: 1\n",
  );
  // Tables, so each query really runs; md5 keeps DuckDB from shortcuts.
  const work = (after: string | null, n: number) =>
    `{{ config(materialized='table') }}\n${
      after ? `-- depends_on: {{ ref('${after}') }}\n` : ""
    }select count(*) as n from range(${n}) where md5(range::varchar) like 'ffff%'\n`;
  await writeFile(dir, "models/step_1.sql", work(null, 400_000));
  await writeFile(dir, "models/step_2.sql", work("step_1", 400_000));
  await writeFile(dir, "models/step_3.sql", work("step_2", 400_000));
  await writeFile(dir, "models/slow.sql", work("step_3", 400_000_000));
}

async function submit(
  d: DaemonProcess,
  body: Record<string, unknown>,
  key?: string,
): Promise<Job> {
  const res = await d.fetch("/v1/jobs", {
    method: "POST",
    body: JSON.stringify(body),
    headers: key ? { "idempotency-key": key } : {},
  });
  assert.equal(res.status, 202, await res.clone().text());
  return await res.json() as Job;
}

const count = (page: Page, selector: string) =>
  page.eval<number>(
    `document.querySelectorAll(${JSON.stringify(selector)}).length`,
  );

Deno.test("ui: the daemon's page in Chromium", opts, async (t) => {
  await using example = await copyExample("floe-ui-");
  const root = example.dir;
  const project = join(root, "jaffle");
  await Deno.mkdir(project);
  for await (const e of Deno.readDir(root)) {
    if (e.name !== "jaffle") {
      await Deno.rename(join(root, e.name), join(project, e.name));
    }
  }
  const slow = join(root, "slowpoke");
  await slowProject(slow);
  const d = await startDaemonProcess([
    "--project-root",
    root,
    "--state-dir",
    join(root, ".state"),
  ]);
  assert.ok(d.url && d.token, d.logs());
  let browser: Browser | undefined;
  try {
    const build = await submit(d, {
      command: "build",
      project_dir: project,
      profiles_dir: project,
    }, "nightly-build-1");
    const built = await waitJob(d, build.id, ["succeeded", "failed"]);
    assert.equal(built.status, "succeeded", JSON.stringify(built.error));
    browser = await launch();
    const page = browser.page;
    await page.viewport(1280, 900);
    // Any Content-Security-Policy violation on a page is recorded here.
    await page.send("Page.addScriptToEvaluateOnNewDocument", {
      source:
        "window.cspViolations = []; document.addEventListener('securitypolicyviolation', (e) => window.cspViolations.push(e.violatedDirective + ' ' + e.blockedURI));",
    });
    await Deno.mkdir(SHOTS, { recursive: true });

    await t.step(
      "without the token the page asks for one and shows no job",
      async () => {
        await page.goto(`${d.url}/`);
        await page.waitFor(
          "document.querySelector('#sign-in')",
          "the sign-in form",
        );
        assert.equal(await count(page, "tr.job"), 0);
        await page.goto(`${d.url}/jobs/${build.id}`);
        await page.waitFor(
          "document.querySelector('#sign-in')",
          "the sign-in form",
        );
        const text = await page.eval<string>("document.body.innerText");
        assert.ok(!text.includes(build.id.slice(0, 12)), text);
        assert.ok(!text.includes("jaffle"), text);
        // A wrong token is refused, and still nothing is shown.
        await page.eval(
          `document.querySelector('#token').value = 'not-the-token-0123456789'`,
        );
        await page.eval(`document.querySelector('#sign-in button').click()`);
        await page.waitFor(
          "document.querySelector('[role=alert]')?.textContent.includes('refused')",
          "the refusal",
        );
        assert.equal(await count(page, "tr.job"), 0);
        await page.screenshot(join(SHOTS, "sign-in.png"));
      },
    );

    await t.step(
      "#token= signs in, leaves the address bar, and lists the finished build",
      async () => {
        await page.goto(`${d.url}/#token=${encodeURIComponent(d.token!)}`);
        await page.waitFor(
          `document.querySelector('tr.job[data-id="${build.id}"][data-status="succeeded"]')`,
          "the finished build in the list",
        );
        assert.equal(await page.eval("location.href"), `${d.url}/`);
        assert.equal(
          await page.eval("sessionStorage.getItem('floe-dbt-token')"),
          d.token,
        );
        const row = await page.eval<string>(
          `document.querySelector('tr.job[data-id="${build.id}"]').innerText`,
        );
        for (
          const word of [
            "succeeded",
            "build",
            "jaffle",
            "local",
            "nightly-build-1",
          ]
        ) {
          assert.ok(row.includes(word), `${word} in ${row}`);
        }
      },
    );

    await t.step(
      "a job page draws the timeline with the example's model names",
      async () => {
        // Through the list's link, as a person would (the token stays in the tab).
        await page.eval(
          `document.querySelector('tr.job[data-id="${build.id}"] a').click()`,
        );
        await page.waitFor(
          `location.pathname === "/jobs/${build.id}" && document.querySelectorAll('#timeline .bar-g').length >= ${MODELS.length}`,
          "the timeline's bars",
        );
        await page.waitFor(
          "document.querySelectorAll('#dag .dag-node').length > 0",
          "the DAG",
        );
        const labels = await page.eval<string[]>(
          "[...document.querySelectorAll('#timeline text.bar-label')].map((t) => t.textContent)",
        );
        for (const m of MODELS) {
          assert.ok(labels.includes(m), `${m} in ${labels}`);
        }
        const dag = await page.eval<string[]>(
          "[...document.querySelectorAll('#dag .dag-node')].map((g) => g.dataset.node)",
        );
        for (const m of MODELS) {
          assert.ok(
            dag.some((id) => id.endsWith(`.${m}`)),
            `${m} in ${dag}`,
          );
        }
        // Status as text: every bar's tooltip names it; the nodes table too.
        const titles = await page.eval<string[]>(
          "[...document.querySelectorAll('#timeline .bar title')].map((t) => t.textContent)",
        );
        assert.ok(
          titles.every((x) => /: (success|pass)/.test(x)),
          titles.join("\n"),
        );
        // The log's search keeps only matching lines.
        const all = await count(page, "#log li");
        await page.eval(
          `(() => { const s = document.querySelector('#log-search'); s.value = 'stg_orders'; s.dispatchEvent(new Event('input')); })()`,
        );
        const shown = await page.eval<string[]>(
          "[...document.querySelectorAll('#log li:not([hidden])')].map((l) => l.textContent)",
        );
        assert.ok(
          shown.length > 0 && shown.length < all,
          `${shown.length} of ${all}`,
        );
        assert.ok(
          shown.every((l) => l.includes("stg_orders")),
          shown.join("\n"),
        );
        await page.eval(
          `(() => { const s = document.querySelector('#log-search'); s.value = ''; s.dispatchEvent(new Event('input')); })()`,
        );
        const artifacts = await page.eval<string[]>(
          "[...document.querySelectorAll('.artifacts a')].map((a) => a.textContent)",
        );
        assert.deepEqual(artifacts, [
          "manifest.json",
          "run_results.json",
          "catalog.json",
          "dbt.log",
        ]);
        await page.screenshot(join(SHOTS, "job.png"));
        assert.deepEqual(await page.eval("window.cspViolations"), []);
      },
    );

    await t.step(
      "a failed job shows its error, what to do, and the failing node",
      async () => {
        const broken = join(root, "broken");
        await slowProject(broken);
        await writeFile(
          broken,
          "models/slow.sql",
          "select * from no_such_table\n",
        );
        const job = await submit(d, {
          command: "run",
          project_dir: broken,
          profiles_dir: broken,
          select: "slow",
        });
        const ended = await waitJob(d, job.id, ["failed", "succeeded"]);
        assert.equal(ended.status, "failed");
        await page.goto(`${d.url}/jobs/${job.id}`);
        await page.waitFor(
          "document.querySelector('section.error .hint') && document.querySelector('#timeline .bar-g[data-status=\"error\"]')",
          "the error and the failed bar",
        );
        const error = await page.eval<string>(
          "document.querySelector('section.error').innerText",
        );
        assert.match(error, /FLOE-DBT-E002/);
        assert.match(error, /model\.slowpoke\.slow/);
        assert.match(error, /What to do:/);
        assert.match(
          await page.eval<string>("document.querySelector('#nodes').innerText"),
          /slow[\s\S]*error/,
        );
        await page.screenshot(join(SHOTS, "job-failed.png"));
      },
    );

    await t.step(
      "a running job's timeline grows, and the page cancels it",
      async () => {
        const job = await submit(d, {
          command: "run",
          project_dir: slow,
          profiles_dir: slow,
        });
        // A job's own address takes #token= too (a fresh tab: no token yet).
        await page.eval("sessionStorage.clear()");
        await page.goto(
          `${d.url}/jobs/${job.id}#token=${encodeURIComponent(d.token!)}`,
        );
        assert.equal(await page.eval("location.hash"), "");
        const first = await page.waitFor<number>(
          "document.querySelectorAll('#timeline .bar-g').length",
          "the first bar",
        );
        await page.waitFor(
          `document.querySelectorAll('#timeline .bar-g').length > ${first}`,
          "another bar",
        );
        await page.waitFor(
          "document.querySelector('#timeline .bar-g[data-node=\"model.slowpoke.slow\"]')",
          "the slow model's bar",
        );
        await page.screenshot(join(SHOTS, "job-running.png"));
        assert.deepEqual(await page.eval("window.cspViolations"), []);
        // With the keyboard: focus the button, press Enter.
        await page.eval("document.querySelector('#cancel').focus()");
        assert.equal(await page.eval("document.activeElement.id"), "cancel");
        await page.press("Enter");
        const ended = await waitJob(d, job.id, [
          "cancelled",
          "failed",
          "succeeded",
        ]);
        assert.equal(ended.status, "cancelled");
        await page.waitFor(
          "document.querySelector('h1 .badge')?.textContent === 'cancelled'",
          "the page showing the job cancelled",
        );
        assert.equal(await count(page, "#cancel"), 0);
        assert.match(d.logs(), /job finished .*status=cancelled/);
      },
    );

    await t.step("history: each model's durations as sparklines", async () => {
      const again = await submit(d, {
        command: "build",
        project_dir: project,
        profiles_dir: project,
      });
      await waitJob(d, again.id, ["succeeded", "failed"]);
      await page.goto(
        `${d.url}/history?project=${encodeURIComponent(project)}`,
      );
      await page.waitFor(
        "document.querySelectorAll('#all-models svg.spark').length >= 4",
        "sparklines",
      );
      const rows = await page.eval<string[]>(
        "[...document.querySelectorAll('#all-models tbody tr')].map((r) => r.dataset.node)",
      );
      for (const m of MODELS) {
        assert.ok(rows.includes(`model.jaffle_duck.${m}`), `${m} in ${rows}`);
      }
      const points = await page.eval<number>(
        "document.querySelector('#all-models svg.spark polyline').getAttribute('points').split(' ').length",
      );
      assert.equal(points, 2, "two jobs, two points");
      await page.screenshot(join(SHOTS, "history.png"));
      assert.deepEqual(await page.eval("window.cspViolations"), []);
    });

    await t.step(
      "the list filters by project and status, and pages",
      async () => {
        await page.goto(`${d.url}/`);
        await page.waitFor(
          "document.querySelectorAll('tr.job').length >= 3",
          "the list",
        );
        // Every kind of job by now: the list as a person sees it.
        await page.screenshot(join(SHOTS, "jobs.png"));
        const rows = () =>
          page.eval<string[]>(
            "[...document.querySelectorAll('tr.job')].map((r) => r.dataset.status + ' ' + r.children[3].title)",
          );
        const choose = (id: string, value: string) =>
          page.eval(`(() => {
          const s = document.querySelector('#${id}');
          s.value = ${JSON.stringify(value)};
          s.dispatchEvent(new Event('change'));
        })()`);
        await page.waitFor(
          `[...document.querySelectorAll('#f-project option')].some((o) => o.value === ${
            JSON.stringify(slow)
          })`,
          "the projects in the filter",
        );
        await choose("f-project", slow);
        await page.waitFor(
          `[...document.querySelectorAll('tr.job')].every((r) => r.children[3].title === ${
            JSON.stringify(slow)
          })`,
          "only the slow project's jobs",
        );
        assert.deepEqual(await rows(), [`cancelled ${slow}`]);
        assert.match(await page.eval<string>("location.search"), /project=/);
        await choose("f-project", "");
        await choose("f-status", "succeeded");
        await page.waitFor(
          "[...document.querySelectorAll('tr.job')].length === 2 && [...document.querySelectorAll('tr.job')].every((r) => r.dataset.status === 'succeeded')",
          "only succeeded jobs",
        );
        // One job a page: Older and Newer walk the API's cursor.
        await page.goto(`${d.url}/?status=succeeded&limit=1`);
        await page.waitFor(
          "document.querySelectorAll('tr.job').length === 1",
          "page 1",
        );
        const first = await page.eval<string>(
          "document.querySelector('tr.job').dataset.id",
        );
        await page.eval(
          "document.querySelector('.pager button:last-child').click()",
        );
        await page.waitFor(
          `document.querySelector('tr.job') && document.querySelector('tr.job').dataset.id !== ${
            JSON.stringify(first)
          }`,
          "page 2",
        );
        assert.equal(
          await page.eval(
            "document.querySelector('.pager button:last-child').disabled",
          ),
          true,
        );
        await page.eval(
          "document.querySelector('.pager button:first-child').click()",
        );
        await page.waitFor(
          `document.querySelector('tr.job')?.dataset.id === ${
            JSON.stringify(first)
          }`,
          "page 1 again",
        );
      },
    );

    await t.step(
      "a narrow window: no sideways scrolling of the page",
      async () => {
        await page.viewport(400, 800);
        await page.goto(`${d.url}/`);
        await page.waitFor(
          "document.querySelectorAll('tr.job').length >= 3",
          "the list",
        );
        assert.ok(
          await page.eval<boolean>(
            "document.documentElement.scrollWidth <= innerWidth",
          ),
          "the page fits; wide tables scroll inside their box",
        );
        await page.screenshot(join(SHOTS, "jobs-narrow.png"));
        await page.goto(`${d.url}/jobs/${build.id}`);
        await page.waitFor(
          "document.querySelectorAll('#timeline .bar-g').length > 0",
          "the timeline",
        );
        assert.ok(
          await page.eval<boolean>(
            "document.documentElement.scrollWidth <= innerWidth",
          ),
        );
        await page.screenshot(join(SHOTS, "job-narrow.png"));
        await page.viewport(1280, 900);
      },
    );

    await t.step("keyboard: Tab reaches the list's links", async () => {
      await page.goto(`${d.url}/`);
      await page.waitFor("document.querySelector('tr.job a')", "the list");
      const reached: string[] = [];
      for (let i = 0; i < 12; i++) {
        await page.press("Tab");
        reached.push(
          await page.eval<string>(
            "document.activeElement.tagName + ' ' + (document.activeElement.getAttribute('href') ?? document.activeElement.id ?? '')",
          ),
        );
      }
      assert.ok(
        reached.some((r) => r.startsWith("A /jobs/")),
        reached.join(", "),
      );
      assert.ok(
        reached.some((r) => r === "SELECT f-status"),
        reached.join(", "),
      );
    });

    await t.step(
      "a page on another origin cannot read or drive anything",
      async () => {
        const running = await submit(d, {
          command: "run",
          project_dir: slow,
          profiles_dir: slow,
        });
        await waitJob(d, running.id, ["running"]);
        const other = Deno.serve(
          { hostname: "127.0.0.1", port: 0, onListen() {} },
          () =>
            new Response("<!doctype html><title>elsewhere</title>", {
              headers: { "content-type": "text/html" },
            }),
        );
        try {
          await page.goto(`http://127.0.0.1:${other.addr.port}/`);
          // Even knowing the token (it cannot: sessionStorage is per origin).
          const results = await page.eval<Record<string, string>>(
            `(async () => {
          const out = {};
          const h = { authorization: "Bearer ${d.token}" };
          for (const [k, url, init] of [
            ["list", "${d.url}/v1/jobs", { headers: h }],
            ["cancel", "${d.url}/v1/jobs/${running.id}/cancel", { method: "POST", headers: { ...h, "content-type": "application/json" } }],
          ]) {
            try { const r = await fetch(url, init); out[k] = "answered " + r.status; }
            catch (e) { out[k] = "blocked"; }
          }
          out.storage = String(sessionStorage.getItem("floe-dbt-token"));
          const f = document.createElement("iframe");
          f.src = "${d.url}/";
          document.body.append(f);
          await new Promise((r) => { f.onload = r; setTimeout(r, 3000); });
          try { out.frame = String(f.contentDocument?.body?.innerText ?? "unreadable"); }
          catch { out.frame = "unreadable"; }
          return out;
        })()`,
          );
          assert.deepEqual(results, {
            list: "blocked",
            cancel: "blocked",
            storage: "null",
            frame: "unreadable",
          });
          const log = d.logs();
          assert.match(
            log,
            /refused request: origin not allowed .*method=OPTIONS path=\/v1\/jobs /,
          );
          assert.match(
            log,
            /refused request: origin not allowed .*method=OPTIONS path=\/v1\/jobs\/[^/]+\/cancel/,
          );
          const still = await (await d.fetch(`/v1/jobs/${running.id}`))
            .json() as Job;
          assert.equal(still.status, "running");
        } finally {
          await other.shutdown();
          await d.fetch(`/v1/jobs/${running.id}/cancel`, { method: "POST" });
          await waitJob(d, running.id, ["cancelled", "failed", "succeeded"]);
        }
      },
    );
  } finally {
    await browser?.close();
    d.child.kill("SIGTERM");
    await d.exit();
  }
});

Deno.test(
  "ui: the page and its assets need no token and carry strict headers",
  opts,
  async () => {
    const dir = await Deno.makeTempDir({ prefix: "floe-ui-h-" });
    const d = await startDaemonProcess([
      "--project-root",
      dir,
      "--state-dir",
      join(dir, "state"),
    ]);
    try {
      for (
        const [path, type] of [
          ["/", "text/html"],
          ["/jobs/abc", "text/html"],
          ["/history", "text/html"],
          ["/ui/app.js", "text/javascript"],
          ["/ui/app.css", "text/css"],
        ] as const
      ) {
        const res = await fetch(`${d.url}${path}`);
        const body = await res.text();
        assert.equal(res.status, 200, path);
        assert.ok(res.headers.get("content-type")!.startsWith(type), path);
        assert.equal(res.headers.get("content-security-policy"), UI_CSP);
        assert.equal(res.headers.get("x-content-type-options"), "nosniff");
        assert.equal(res.headers.get("referrer-policy"), "no-referrer");
        assert.ok(!body.includes(d.token!), "no token in the page");
        if (type === "text/html") {
          assert.doesNotMatch(
            body,
            /<script>|<style|\sstyle=|\son[a-z]+=/i,
            "nothing inline",
          );
        }
      }
      assert.match(UI_CSP, /default-src 'self'/);
      assert.match(UI_CSP, /frame-ancestors 'none'/);
      // The API still needs the token.
      assert.equal((await fetch(`${d.url}/v1/jobs`)).status, 401);
      // The page's own origin (http:// + the Host the daemon accepted) may
      // call the API; any other origin, or a foreign Host, may not.
      const port = new URL(d.url).port;
      const auth = { authorization: `Bearer ${d.token}` };
      for (
        const [host, origin, status] of [
          [`127.0.0.1:${port}`, `http://127.0.0.1:${port}`, 200],
          [`localhost:${port}`, `http://localhost:${port}`, 200],
          [`[::1]:${port}`, `http://[::1]:${port}`, 200],
          [`127.0.0.1:${port}`, `http://localhost:${port}`, 403],
          [`127.0.0.1:${port}`, `http://127.0.0.1:${Number(port) + 1}`, 403],
          [`127.0.0.1:${port}`, `https://127.0.0.1:${port}`, 403],
          [`127.0.0.1:${port}`, "null", 403],
          [`evil.example:${port}`, `http://evil.example:${port}`, 403],
        ] as const
      ) {
        const r = await rawRequest(d.url, "GET", "/v1/jobs", {
          host,
          origin,
          ...auth,
        });
        assert.equal(r.status, status, `${host} ${origin}: ${r.body}`);
        // Same origin needs no CORS grant, and none is given.
        assert.equal(r.headers["access-control-allow-origin"], undefined);
      }
      // The history endpoint checks its query.
      for (
        const [query, message] of [
          ["", /Missing query parameter 'project_dir'/],
          ["?project_dir=x&limit=0", /Invalid limit '0'/],
          ["?project_dir=x&limit=abc", /Invalid limit 'abc'/],
          ["?project_dir=x&color=red", /Invalid query parameter 'color'/],
        ] as const
      ) {
        const r = await d.fetch(`/v1/project/history${query}`);
        const body = await r.json();
        assert.equal(r.status, 400, query);
        assert.equal(body.code, "FLOE-DBT-E010");
        assert.match(body.message, message);
      }
      const none = await (await d.fetch(
        `/v1/project/history?project_dir=${encodeURIComponent(dir)}`,
      )).json();
      assert.deepEqual(none.nodes, []);
      assert.deepEqual(none.jobs, []);
      assert.equal(
        (await fetch(`${d.url}/v1/project/history?project_dir=x`)).status,
        401,
      );
      // Not a terminal: the daemon names where the token is, never the token.
      assert.match(d.logs(), /paste the token in .*token/);
      assert.ok(!d.logs().includes(d.token!));
    } finally {
      d.child.kill("SIGTERM");
      await d.exit();
      await Deno.remove(dir, { recursive: true });
    }
  },
);

Deno.test(
  "ui: the served script is its type-checked sources, bundled (deno task ui)",
  opts,
  async () => {
    const check = await new Deno.Command(Deno.execPath(), {
      args: ["check", "--quiet", "src/daemon/ui/browser/main.ts"],
      cwd: ROOT,
      stdout: "piped",
      stderr: "piped",
    }).output();
    assert.ok(check.success, new TextDecoder().decode(check.stderr));
    assert.equal(
      await Deno.readTextFile(join(ROOT, "src", "daemon", "ui", "app_js.ts")),
      await appJsModule(),
      "src/daemon/ui/app_js.ts is stale: run 'deno task ui'",
    );
  },
);

Deno.test(
  "ui: serve at a terminal prints the page's address with its generated token (Jupyter's pattern)",
  opts,
  async () => {
    const dir = await Deno.makeTempDir({ prefix: "floe-ui-tty-" });
    const state = join(dir, "state");
    // script(1) gives serve a terminal, as a person starting it would have.
    const cmd = [
      Deno.execPath(),
      "run",
      "--allow-all",
      "--quiet",
      join(ROOT, "main.ts"),
      "serve",
      "--port",
      "0",
      "--project-root",
      dir,
      "--state-dir",
      state,
    ].map((a) => `'${a}'`).join(" ");
    const child = new Deno.Command("script", {
      args: ["-q", "-f", "-e", "-c", cmd, "/dev/null"],
      env: { NO_COLOR: "1" },
      stdin: "piped",
      stdout: "piped",
      stderr: "null",
    }).spawn();
    const reader = child.stdout.pipeThrough(new TextDecoderStream())
      .getReader();
    let out = "";
    try {
      while (!/#token=\S+\s/.test(out)) {
        const { value, done } = await reader.read();
        assert.ok(!done, out);
        out += value;
      }
      const token = (await Deno.readTextFile(join(state, "token"))).trim();
      const url = out.match(/(http:\/\/127\.0\.0\.1:\d+\/)#token=(\S+)/);
      assert.ok(url, out);
      assert.equal(decodeURIComponent(url[2]!), token);
      assert.match(out, /listening on http:\/\/127\.0\.0\.1:\d+/);
      // The log line itself names where the token is, not the token.
      const listening = out.split("\n").find((l) =>
        l.includes("listening on")
      )!;
      assert.ok(!listening.includes(token), listening);
    } finally {
      const pid = out.match(/pid=(\d+)/)?.[1];
      if (pid) Deno.kill(Number(pid), "SIGTERM");
      (async () => {
        while (!(await reader.read()).done) { /* drain */ }
      })().catch(() => {});
      await child.stdin.close().catch(() => {});
      await child.status;
      await Deno.remove(dir, { recursive: true });
    }
  },
);
