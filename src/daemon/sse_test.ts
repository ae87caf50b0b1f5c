import assert from "node:assert/strict";
import type { ProgressEvent } from "../contract/schemas.ts";
import { lastEventIdOf, type SseSource, sseStream } from "./sse.ts";

function log(message: string): ProgressEvent {
  return { v: 1, type: "log", level: "info", message, ts: "t" };
}

/** A fake subscription: a replay plus a handle to push live events. */
function source(replay: ProgressEvent[], done = false) {
  const s = {
    push: (_: ProgressEvent | null) => {},
    unsubscribed: false,
    subscribe(push: (e: ProgressEvent | null) => void): SseSource {
      s.push = push;
      return {
        replay,
        done,
        unsubscribe: () => (s.unsubscribed = true),
      };
    },
  };
  return s;
}

async function readAll(body: ReadableStream<Uint8Array>): Promise<string> {
  return await new Response(body).text();
}

Deno.test("sse: events are numbered; Last-Event-ID resumes after the last one seen", async () => {
  const streams = new Set<() => void>();
  const all = await readAll(sseStream({
    subscribe: source([log("a"), log("b"), log("c")], true).subscribe,
    lastEventId: -1,
    streams,
  }));
  assert.match(all, /^id: 0\nevent: log\ndata: .*"a".*\n\nid: 1\n/);
  const resumed = await readAll(sseStream({
    subscribe: source([log("a"), log("b"), log("c")], true).subscribe,
    lastEventId: 1,
    streams,
  }));
  assert.equal(resumed.match(/^id: /gm)?.length, 1);
  assert.match(resumed, /^id: 2\n[\s\S]*"c"/);
  assert.equal(streams.size, 0, "finished streams unregister");
  assert.equal(lastEventIdOf(" 12 "), 12);
  assert.equal(lastEventIdOf("-1"), -1);
  assert.equal(lastEventIdOf("x"), -1);
});

Deno.test("sse: an idle stream gets heartbeat comments, live events follow, null ends it", async () => {
  const s = source([]);
  const body = sseStream({
    subscribe: s.subscribe,
    lastEventId: -1,
    streams: new Set(),
    heartbeatMs: 5,
  });
  const reader = body.getReader();
  // The heartbeat timer does not hold the process open (the server does).
  const keepAlive = setInterval(() => {}, 1000);
  const first = new TextDecoder().decode((await reader.read()).value);
  assert.equal(first, ": heartbeat\n\n");
  s.push(log("live"));
  s.push(null);
  let rest = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    rest += new TextDecoder().decode(value);
  }
  clearInterval(keepAlive);
  assert.match(rest, /id: 0\nevent: log\ndata: .*"live"/);
  assert.ok(s.unsubscribed);
});

Deno.test("sse: a client that stops reading is dropped past the backlog cap; shutdown aborts open streams", async () => {
  const s = source([]);
  const streams = new Set<() => void>();
  const body = sseStream({
    subscribe: s.subscribe,
    lastEventId: -1,
    streams,
    maxBacklog: 10,
  });
  const reader = body.getReader();
  for (let i = 0; i < 20; i++) s.push(log(`e${i}`));
  await assert.rejects(async () => {
    for (;;) if ((await reader.read()).done) break;
  });
  assert.ok(s.unsubscribed);
  assert.equal(streams.size, 0);

  const t = source([]);
  const open = sseStream({
    subscribe: t.subscribe,
    lastEventId: -1,
    streams,
  }).getReader();
  assert.equal(streams.size, 1);
  for (const abort of streams) abort();
  await assert.rejects(() => open.read(), /shutting down/);
  assert.ok(t.unsubscribed);
  assert.equal(streams.size, 0);
});
