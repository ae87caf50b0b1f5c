import assert from "node:assert/strict";
import { ROOT } from "./_helpers.ts";

const opts = { sanitizeResources: false, sanitizeOps: false };

/** The fenced sh block of README.md that starts with `# walkthrough`. */
async function walkthrough(): Promise<string> {
  const readme = await Deno.readTextFile(`${ROOT}/README.md`);
  const m = readme.match(/```sh\n(# walkthrough[\s\S]*?)```/);
  assert.ok(m, "README has the daemon walkthrough");
  return m[1]!;
}

Deno.test(
  "docs: the README's daemon walkthrough runs as written",
  opts,
  async () => {
    const port = 20000 + Math.floor(Math.random() * 20000);
    // The walkthrough uses the default port; run it on a free one here.
    const script = (await walkthrough()).replaceAll("8686", String(port))
      .replace("serve --project-root", `serve --port ${port} --project-root`)
      .replaceAll(
        ".tools/deno run -A main.ts submit",
        `.tools/deno run -A main.ts submit --url http://127.0.0.1:${port}`,
      )
      .replaceAll(
        ".tools/deno run -A main.ts jobs",
        `.tools/deno run -A main.ts jobs --url http://127.0.0.1:${port}`,
      );
    const out = await new Deno.Command("bash", {
      // A failing step must not leave the daemon holding our pipes.
      args: [
        "-c",
        `set -e -m\ntrap 'kill $(jobs -p) 2>/dev/null || true' EXIT\n${script}`,
      ],
      stdin: "null",
      cwd: ROOT,
      env: { NO_COLOR: "1", RUST_BACKTRACE: "0" },
      stdout: "piped",
      stderr: "piped",
    }).output();
    const stdout = new TextDecoder().decode(out.stdout);
    const stderr = new TextDecoder().decode(out.stderr);
    assert.equal(out.code, 0, stderr);
    assert.match(
      stdout,
      /"status":"(queued|running)"/,
      "curl got the accepted job",
    );
    assert.match(
      stdout,
      /[0-9a-f-]{36} succeeded/,
      "submit --follow ends with the job succeeded",
    );
    assert.match(
      stderr,
      /Completed: build via local: 5 models, 14 tests, 1 seed; 0 failures/,
    );
    assert.match(stderr, /stopped/);
  },
);
