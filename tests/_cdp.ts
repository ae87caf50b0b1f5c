/**
 * A small Chrome DevTools Protocol client over a real headless Chromium (for
 * the page tests): navigate, evaluate, wait for a condition, press keys,
 * size the window, take screenshots. scripts/setup installs Debian's
 * chromium; FLOE_TEST_CHROMIUM points elsewhere.
 *
 * @module
 */

const CHROMIUM = Deno.env.get("FLOE_TEST_CHROMIUM") ?? "/usr/bin/chromium";

/** One tab driven over CDP. */
export interface Page {
  /** Send one CDP command; resolves with its result. */
  send<T = Record<string, unknown>>(
    method: string,
    params?: Record<string, unknown>,
  ): Promise<T>;
  /** Load `url` and wait for its load event. */
  goto(url: string): Promise<void>;
  /** Evaluate `expression` in the page (promises awaited), by value. */
  eval<T = unknown>(expression: string): Promise<T>;
  /** Evaluate until the value is truthy, and return it. */
  waitFor<T = unknown>(expression: string, what: string): Promise<T>;
  /** Press a key (`Enter`, `Tab`) in the focused element. */
  press(key: "Enter" | "Tab"): Promise<void>;
  /** Set the window's size in CSS pixels. */
  viewport(width: number, height: number): Promise<void>;
  /** Write a PNG of the whole page to `path`. */
  screenshot(path: string): Promise<void>;
}

/** A running Chromium with one page; close() stops it. */
export interface Browser {
  page: Page;
  close(): Promise<void>;
}

const KEYS = {
  Enter: { key: "Enter", code: "Enter", windowsVirtualKeyCode: 13, text: "\r" },
  Tab: { key: "Tab", code: "Tab", windowsVirtualKeyCode: 9 },
};

/** Start headless Chromium and attach to its first tab. */
export async function launch(): Promise<Browser> {
  try {
    await Deno.stat(CHROMIUM);
  } catch {
    throw new Error(
      `${CHROMIUM} is missing: run scripts/setup (it installs Debian's chromium)`,
    );
  }
  const profile = await Deno.makeTempDir({ prefix: "floe-cdp-" });
  const child = new Deno.Command(CHROMIUM, {
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--no-first-run",
      "--no-default-browser-check",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
      "--disable-extensions",
      "--no-proxy-server",
      "--hide-scrollbars",
      "--force-color-profile=srgb",
      "--remote-debugging-port=0",
      `--user-data-dir=${profile}`,
      "about:blank",
    ],
    stdin: "null",
    stdout: "null",
    stderr: "piped",
    detached: true,
  }).spawn();
  const kill = async () => {
    try {
      Deno.kill(-child.pid, "SIGKILL");
    } catch {
      // already gone
    }
    await child.status;
    await Deno.remove(profile, { recursive: true }).catch(() => {});
  };
  try {
    const reader = child.stderr.pipeThrough(new TextDecoderStream())
      .getReader();
    let err = "";
    let port = "";
    while (!port) {
      const { value, done } = await reader.read();
      if (done) throw new Error(`chromium exited: ${err}`);
      err += value;
      port = err.match(/DevTools listening on ws:\/\/[^:]+:(\d+)\//)?.[1] ??
        "";
    }
    // The rest of its stderr is drained and dropped.
    (async () => {
      while (!(await reader.read()).done) { /* drain */ }
    })().catch(() => {});
    const targets = await (await fetch(`http://127.0.0.1:${port}/json/list`))
      .json() as { type: string; webSocketDebuggerUrl: string }[];
    const target = targets.find((t) => t.type === "page");
    if (!target) throw new Error("chromium has no page");
    const page = await connect(target.webSocketDebuggerUrl);
    return {
      page: page.page,
      async close() {
        page.close();
        await kill();
      },
    };
  } catch (e) {
    await kill();
    throw e;
  }
}

async function connect(
  url: string,
): Promise<{ page: Page; close(): void }> {
  const ws = new WebSocket(url);
  await new Promise((ok, fail) => {
    ws.onopen = ok;
    ws.onerror = () => fail(new Error(`cannot connect to ${url}`));
  });
  let next = 1;
  const waiting = new Map<
    number,
    { ok: (v: unknown) => void; fail: (e: Error) => void }
  >();
  const listeners = new Set<(method: string) => void>();
  ws.onmessage = (m) => {
    const msg = JSON.parse(m.data as string);
    if (msg.id !== undefined) {
      const w = waiting.get(msg.id);
      waiting.delete(msg.id);
      if (msg.error) w?.fail(new Error(JSON.stringify(msg.error)));
      else w?.ok(msg.result);
    } else if (msg.method) {
      for (const l of listeners) l(msg.method);
    }
  };
  const send = <T>(method: string, params: Record<string, unknown> = {}) =>
    new Promise<T>((ok, fail) => {
      const id = next++;
      waiting.set(id, { ok: ok as (v: unknown) => void, fail });
      ws.send(JSON.stringify({ id, method, params }));
    });
  await send("Page.enable");
  await send("Runtime.enable");
  const evaluate = async <T>(expression: string): Promise<T> => {
    const r = await send<{
      result: { value?: T };
      exceptionDetails?: { text: string; exception?: { description?: string } };
    }>("Runtime.evaluate", {
      expression,
      awaitPromise: true,
      returnByValue: true,
    });
    if (r.exceptionDetails) {
      throw new Error(
        `${expression}: ${
          r.exceptionDetails.exception?.description ?? r.exceptionDetails.text
        }`,
      );
    }
    return r.result.value as T;
  };
  let width = 1280;
  const page: Page = {
    send,
    async goto(target) {
      const loaded = new Promise<void>((r) => {
        const l = (method: string) => {
          if (method !== "Page.loadEventFired") return;
          listeners.delete(l);
          r();
        };
        listeners.add(l);
      });
      await send("Page.navigate", { url: target });
      await loaded;
    },
    eval: evaluate,
    async waitFor<T>(expression: string, what: string): Promise<T> {
      for (let i = 0; i < 1200; i++) {
        const v = await evaluate<T>(expression).catch(() => undefined);
        if (v) return v;
        await new Promise((r) => setTimeout(r, 50));
      }
      throw new Error(`timed out waiting for ${what}`);
    },
    async press(key) {
      const k = KEYS[key];
      await send("Input.dispatchKeyEvent", { type: "keyDown", ...k });
      await send("Input.dispatchKeyEvent", { type: "keyUp", ...k });
    },
    async viewport(w, h) {
      width = w;
      await send("Emulation.setDeviceMetricsOverride", {
        width: w,
        height: h,
        deviceScaleFactor: 1,
        mobile: false,
      });
    },
    async screenshot(path) {
      const height = await evaluate<number>(
        "Math.ceil(document.documentElement.scrollHeight)",
      );
      const shot = await send<{ data: string }>("Page.captureScreenshot", {
        format: "png",
        captureBeyondViewport: true,
        clip: { x: 0, y: 0, width, height: Math.min(height, 4000), scale: 1 },
      });
      await Deno.writeFile(
        path,
        Uint8Array.from(atob(shot.data), (c) => c.charCodeAt(0)),
      );
    },
  };
  return { page, close: () => ws.close() };
}
