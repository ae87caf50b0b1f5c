/**
 * The daemon's own HTTP/1.1 server on `Deno.listen`, so that no stranger can
 * stop it: every request (head and body) must arrive within a deadline (a
 * half-sent or idle connection is closed), request bodies are read whole and
 * capped before the handler runs, open connections are capped (one past the
 * cap gets a 503 E013 and is closed at once), and accept errors (EMFILE,
 * ENFILE) are logged and retried with a backoff, never fatal. `Deno.serve`
 * has none of these: half-open connections pile up until it runs out of file
 * descriptors and stops.
 *
 * One request per turn: keep-alive, `Expect: 100-continue`, chunked or
 * Content-Length request bodies; responses are chunked (close-delimited for
 * HTTP/1.0) and streamed, so Server-Sent Events flow as written. A client
 * that goes away cancels the response body and aborts the request's signal.
 *
 * @module
 */
import { ERROR_CODES } from "../contract/errors.ts";

/** How to serve. */
export interface Http1Options {
  hostname: string;
  port: number;
  /** Answers one request. */
  handler: (req: Request) => Response | Promise<Response>;
  /**
   * A request (head and body) must arrive within this time after the server
   * starts waiting for it (a new connection, or the previous answer's end).
   */
  requestTimeoutMs: number;
  /** Open connections at most; more are refused with a 503 and closed. */
  maxConnections: number;
  /** Largest request body; a larger one gets 413. */
  maxBodyBytes: number;
  /** Largest request head (request line and headers); more gets 431. */
  maxHeadBytes?: number;
  log: (
    level: "info" | "warn" | "error",
    message: string,
    fields?: Record<string, unknown>,
  ) => void;
}

/** What the server did to protect itself (for logs and tests). */
export interface Http1Stats {
  accepted: number;
  /** Connections refused because `maxConnections` were open. */
  refused: number;
  /** Connections closed because a request did not arrive in time. */
  timedOut: number;
  /** Failed accepts (EMFILE and the like), each retried. */
  acceptErrors: number;
}

const DEFAULT_MAX_HEAD_BYTES = 64 * 1024;
const READ_CHUNK = 16 * 1024;
const MAX_ACCEPT_BACKOFF_MS = 1000;
const WARN_EVERY_MS = 10_000;
const CRLF = new Uint8Array([13, 10]);
const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
const HOP_BY_HOP = new Set([
  "connection",
  "keep-alive",
  "transfer-encoding",
  "content-length",
  "upgrade",
  "proxy-connection",
]);
const REASONS: Record<number, string> = {
  100: "Continue",
  200: "OK",
  201: "Created",
  202: "Accepted",
  204: "No Content",
  304: "Not Modified",
  400: "Bad Request",
  401: "Unauthorized",
  403: "Forbidden",
  404: "Not Found",
  405: "Method Not Allowed",
  408: "Request Timeout",
  409: "Conflict",
  410: "Gone",
  413: "Content Too Large",
  415: "Unsupported Media Type",
  422: "Unprocessable Content",
  429: "Too Many Requests",
  431: "Request Header Fields Too Large",
  500: "Internal Server Error",
  501: "Not Implemented",
  503: "Service Unavailable",
  505: "HTTP Version Not Supported",
};

/** A request the server refuses before the handler sees it. */
class Refusal {
  constructor(
    readonly status: number,
    readonly message: string,
    readonly hint: string,
  ) {}
}

/** The answer to a refused request: the daemon's `{code, message, hint}`. */
function refusalBytes(r: Refusal): Uint8Array {
  const code = r.status === 503 ? ERROR_CODES.unavailable : ERROR_CODES.usage;
  const body = JSON.stringify({ code, message: r.message, hint: r.hint });
  const bytes = new TextEncoder().encode(body);
  return new TextEncoder().encode(
    `HTTP/1.1 ${r.status} ${REASONS[r.status] ?? "Error"}\r\n` +
      `content-type: application/json\r\ncontent-length: ${bytes.length}\r\n` +
      (r.status === 503 ? "retry-after: 1\r\n" : "") +
      `connection: close\r\n\r\n${body}`,
  );
}

async function writeAll(conn: Deno.Conn, bytes: Uint8Array): Promise<void> {
  let done = 0;
  while (done < bytes.length) done += await conn.write(bytes.subarray(done));
}

function indexOf(hay: Uint8Array, needle: Uint8Array, from = 0): number {
  outer: for (let i = from; i + needle.length <= hay.length; i++) {
    for (let j = 0; j < needle.length; j++) {
      if (hay[i + j] !== needle[j]) continue outer;
    }
    return i;
  }
  return -1;
}

/** Bytes as a string, one char per byte (header values are bytes). */
function latin1(bytes: Uint8Array): string {
  let s = "";
  for (let i = 0; i < bytes.length; i += 8192) {
    s += String.fromCharCode(...bytes.subarray(i, i + 8192));
  }
  return s;
}

/** Buffered reads from one connection; one read in flight at a time. */
class ConnReader {
  buf: Uint8Array<ArrayBuffer> = new Uint8Array(0);
  eof = false;
  #pending: Promise<boolean> | undefined;
  constructor(readonly conn: Deno.Conn) {}

  /** Read more into `buf`; false at the end (or when the conn is closed). */
  fill(): Promise<boolean> {
    this.#pending ??= (async () => {
      const chunk = new Uint8Array(READ_CHUNK);
      let n: number | null = null;
      try {
        n = await this.conn.read(chunk);
      } catch {
        n = null;
      }
      this.#pending = undefined;
      if (n === null) {
        this.eof = true;
        return false;
      }
      const next = new Uint8Array(this.buf.length + n);
      next.set(this.buf);
      next.set(chunk.subarray(0, n), this.buf.length);
      this.buf = next;
      return true;
    })();
    return this.#pending;
  }

  take(n: number): Uint8Array<ArrayBuffer> {
    const out = this.buf.slice(0, n);
    this.buf = this.buf.slice(n);
    return out;
  }
}

interface Head {
  method: string;
  target: string;
  version: "1.0" | "1.1";
  headers: Headers;
  keepAlive: boolean;
  length: number | undefined;
  chunked: boolean;
  expectContinue: boolean;
}

function bad(message: string, status = 400): Refusal {
  return new Refusal(
    status,
    message,
    "send a well-formed HTTP/1.1 request (curl, fetch and the floe-dbt clients do)",
  );
}

/** Parse a request head (without its final CRLF CRLF). */
function parseHead(text: string): Head {
  const lines = text.split("\r\n");
  const m = lines[0]!.match(/^(\S+) (\S+) HTTP\/(\d\.\d)$/);
  if (!m || !TOKEN.test(m[1]!)) throw bad("Malformed request line");
  const [, method, target, version] = m as unknown as string[];
  if (version !== "1.1" && version !== "1.0") {
    throw bad(`HTTP/${version} is not supported`, 505);
  }
  if (!target!.startsWith("/")) {
    throw bad("The request target must be a path starting with '/'");
  }
  const headers = new Headers();
  let hosts = 0;
  const lengths = new Set<string>();
  for (const line of lines.slice(1)) {
    const i = line.indexOf(":");
    if (i <= 0 || !TOKEN.test(line.slice(0, i))) {
      throw bad("Malformed header line");
    }
    const name = line.slice(0, i).toLowerCase();
    const value = line.slice(i + 1).replace(/^[ \t]+|[ \t]+$/g, "");
    if (/[\0\r\n]/.test(value)) throw bad(`Malformed header '${name}'`);
    if (name === "host") hosts++;
    if (name === "content-length") lengths.add(value);
    try {
      headers.append(name, value);
    } catch {
      throw bad(`Malformed header '${name}'`);
    }
  }
  if (hosts > 1 || (version === "1.1" && hosts === 0)) {
    throw bad("An HTTP/1.1 request needs exactly one Host header");
  }
  const te = headers.get("transfer-encoding");
  const chunked = te !== null;
  if (chunked && te.trim().toLowerCase() !== "chunked") {
    throw bad(`Transfer-Encoding '${te}' is not supported`, 501);
  }
  if (chunked && lengths.size) {
    throw bad(
      "A request may not have both Content-Length and Transfer-Encoding",
    );
  }
  let length: number | undefined;
  if (lengths.size > 1) throw bad("Conflicting Content-Length headers");
  if (lengths.size === 1) {
    const v = [...lengths][0]!;
    if (!/^\d{1,15}$/.test(v)) throw bad(`Invalid Content-Length '${v}'`);
    length = Number(v);
  }
  const conn = (headers.get("connection") ?? "").toLowerCase().split(",")
    .map((t) => t.trim());
  return {
    method: method!,
    target: target!,
    version: version as "1.0" | "1.1",
    headers,
    keepAlive: version === "1.1" && !conn.includes("close"),
    length,
    chunked,
    expectContinue:
      (headers.get("expect") ?? "").toLowerCase() === "100-continue",
  };
}

/** Listens and serves; see the module doc. */
export class Http1Server {
  readonly port: number;
  readonly stats: Http1Stats = {
    accepted: 0,
    refused: 0,
    timedOut: 0,
    acceptErrors: 0,
  };
  /** Resolves once the listener is closed and every connection ended. */
  readonly finished: Promise<void>;
  readonly #o: Http1Options;
  readonly #listener: Deno.TcpListener;
  /** Open connections; true while a request is being answered. */
  readonly #conns = new Map<Deno.Conn, { busy: boolean }>();
  readonly #tasks = new Set<Promise<void>>();
  #closing = false;
  /** When each kind of warning was last logged (at most one per 10 s). */
  readonly #lastWarned = new Map<string, number>();

  /** Listen now (throws as `Deno.listen` does); serving starts at once. */
  constructor(o: Http1Options) {
    this.#o = o;
    this.#listener = Deno.listen({ hostname: o.hostname, port: o.port });
    this.port = this.#listener.addr.port;
    this.finished = this.#acceptLoop();
  }

  /** The address listened on, as bound (a name is resolved). */
  get hostname(): string {
    return this.#listener.addr.hostname;
  }

  /** Connections open now. */
  get connections(): number {
    return this.#conns.size;
  }

  /** Stop accepting, close idle connections, wait for answers in flight. */
  async shutdown(): Promise<void> {
    if (!this.#closing) {
      this.#closing = true;
      try {
        this.#listener.close();
      } catch {
        // already closed
      }
      for (const [conn, s] of this.#conns) if (!s.busy) close(conn);
    }
    await this.finished;
  }

  async #acceptLoop(): Promise<void> {
    let backoff = 0;
    while (!this.#closing) {
      let conn: Deno.Conn;
      try {
        conn = await this.#listener.accept();
      } catch (e) {
        if (this.#closing || e instanceof Deno.errors.BadResource) break;
        this.stats.acceptErrors++;
        backoff = Math.min(MAX_ACCEPT_BACKOFF_MS, backoff ? backoff * 2 : 10);
        this.#warn("accepting a connection failed: retrying", {
          error: (e as Error).message,
          open_connections: this.#conns.size,
          failures: this.stats.acceptErrors,
          retry_in_ms: backoff,
        });
        await new Promise((r) => setTimeout(r, backoff));
        continue;
      }
      backoff = 0;
      this.stats.accepted++;
      if (this.#conns.size >= this.#o.maxConnections) {
        this.stats.refused++;
        void this.#refuseBusy(conn);
        continue;
      }
      this.#conns.set(conn, { busy: false });
      const task = this.#serveConn(conn).finally(() => {
        this.#conns.delete(conn);
        close(conn);
        this.#tasks.delete(task);
      });
      this.#tasks.add(task);
    }
    await Promise.allSettled([...this.#tasks]);
  }

  /** A warning, at most once per 10 s for each message (floods log little). */
  #warn(message: string, fields: Record<string, unknown>): void {
    const now = Date.now();
    if (now - (this.#lastWarned.get(message) ?? 0) < WARN_EVERY_MS) return;
    this.#lastWarned.set(message, now);
    this.#o.log("warn", message, fields);
  }

  async #refuseBusy(conn: Deno.Conn): Promise<void> {
    this.#warn("refused connections: too many open", {
      max_connections: this.#o.maxConnections,
      refused: this.stats.refused,
    });
    // Written without waiting for the client to read; closed either way.
    const timer = setTimeout(() => close(conn), 1000);
    try {
      await writeAll(
        conn,
        refusalBytes(
          new Refusal(
            503,
            `Too many open connections (max ${this.#o.maxConnections})`,
            "retry in a moment; the operator can raise serve --max-connections",
          ),
        ),
      );
    } catch {
      // the client went away
    } finally {
      clearTimeout(timer);
      close(conn);
    }
  }

  async #serveConn(conn: Deno.Conn): Promise<void> {
    const reader = new ConnReader(conn);
    const state = this.#conns.get(conn)!;
    for (;;) {
      if (this.#closing) return;
      // The whole request must arrive before this timer fires.
      const timer = setTimeout(() => {
        this.stats.timedOut++;
        this.#warn("closed connections: no whole request within the deadline", {
          request_timeout_seconds: this.#o.requestTimeoutMs / 1000,
          closed: this.stats.timedOut,
        });
        close(conn);
      }, this.#o.requestTimeoutMs);
      let head: Head;
      let body: Uint8Array<ArrayBuffer> | undefined;
      try {
        const got = await this.#readRequest(reader, conn);
        if (!got) return; // closed, timed out, or the client ended
        ({ head, body } = got);
      } catch (e) {
        if (e instanceof Refusal) {
          await writeAll(conn, refusalBytes(e)).catch(() => {});
        }
        return;
      } finally {
        clearTimeout(timer);
      }
      state.busy = true;
      const keep = await this.#answer(conn, reader, head, body);
      state.busy = false;
      if (!keep || this.#closing) return;
    }
  }

  /** Read one request; undefined when the connection ended first. */
  async #readRequest(
    reader: ConnReader,
    conn: Deno.Conn,
  ): Promise<
    { head: Head; body: Uint8Array<ArrayBuffer> | undefined } | undefined
  > {
    const maxHead = this.#o.maxHeadBytes ?? DEFAULT_MAX_HEAD_BYTES;
    let end: number;
    for (;;) {
      // Empty lines before a request are allowed (RFC 9112 2.2).
      while (reader.buf[0] === 13 && reader.buf[1] === 10) reader.take(2);
      end = indexOf(reader.buf, new Uint8Array([13, 10, 13, 10]));
      if (end >= 0) break;
      if (reader.buf.length > maxHead) {
        throw new Refusal(
          431,
          `Request head over ${maxHead} bytes`,
          "send fewer or shorter headers",
        );
      }
      if (!(await reader.fill())) return undefined;
    }
    if (end > maxHead) {
      throw new Refusal(
        431,
        `Request head over ${maxHead} bytes`,
        "send fewer or shorter headers",
      );
    }
    const head = parseHead(latin1(reader.take(end)));
    reader.take(4);
    const max = this.#o.maxBodyBytes;
    const tooLarge = new Refusal(
      413,
      `Request body over ${max} bytes`,
      "send a smaller JSON body",
    );
    if (head.length !== undefined && head.length > max) throw tooLarge;
    if (head.expectContinue && (head.length || head.chunked)) {
      await writeAll(
        conn,
        new TextEncoder().encode(
          "HTTP/1.1 100 Continue\r\n\r\n",
        ),
      );
    }
    let body: Uint8Array<ArrayBuffer> | undefined;
    if (head.length !== undefined) {
      while (reader.buf.length < head.length) {
        if (!(await reader.fill())) return undefined;
      }
      body = reader.take(head.length);
    } else if (head.chunked) {
      body = await readChunked(reader, max, tooLarge);
      if (!body) return undefined;
    }
    return { head, body };
  }

  /** Run the handler and write its answer; true to keep the connection. */
  async #answer(
    conn: Deno.Conn,
    reader: ConnReader,
    head: Head,
    body: Uint8Array<ArrayBuffer> | undefined,
  ): Promise<boolean> {
    const abort = new AbortController();
    const maxHead = this.#o.maxHeadBytes ?? DEFAULT_MAX_HEAD_BYTES;
    const host = head.headers.get("host") ?? "localhost";
    let url: string;
    try {
      url = new URL(`http://${host}${head.target}`).href;
    } catch {
      url = new URL(head.target, "http://localhost").href;
    }
    let res: Response;
    try {
      const hasBody = head.method !== "GET" && head.method !== "HEAD";
      const req = new Request(url, {
        method: head.method,
        headers: head.headers,
        ...(hasBody && body ? { body } : {}),
        signal: abort.signal,
      });
      res = await this.#o.handler(req);
    } catch (e) {
      this.#o.log("error", "internal error answering a request", {
        method: head.method,
        error: e instanceof Error ? e.message : String(e),
      });
      res = Response.json({
        code: ERROR_CODES.execution,
        message: "Internal error; see the agent's log",
      }, { status: 500 });
    }
    const noBody = head.method === "HEAD" || res.status === 204 ||
      res.status === 304 || res.body === null;
    const chunked = !noBody && head.version === "1.1";
    let keep = head.keepAlive && !this.#closing && (noBody || chunked);
    const lines = [`HTTP/1.1 ${res.status} ${REASONS[res.status] ?? "Status"}`];
    for (const [k, v] of res.headers) {
      if (!HOP_BY_HOP.has(k)) lines.push(`${k}: ${v}`);
    }
    if (chunked) lines.push("transfer-encoding: chunked");
    else if (noBody && head.method !== "HEAD") lines.push("content-length: 0");
    lines.push(`connection: ${keep ? "keep-alive" : "close"}`);
    const stream = noBody ? undefined : res.body!.getReader();
    if (noBody) await res.body?.cancel().catch(() => {});
    // A client that leaves while the answer streams: stop the stream.
    let gone = false;
    void (async () => {
      while (!gone && await reader.fill()) {
        // Pipelined bytes wait for the next turn, up to a head's size.
        if (reader.buf.length > maxHead) break;
      }
      if (!gone) {
        gone = true;
        abort.abort();
        await stream?.cancel().catch(() => {});
      }
    })();
    try {
      await writeAll(
        conn,
        new TextEncoder().encode(lines.join("\r\n") + "\r\n\r\n"),
      );
      while (stream) {
        const { value, done } = await stream.read();
        if (done) {
          if (chunked) {
            await writeAll(conn, new TextEncoder().encode("0\r\n\r\n"));
          }
          break;
        }
        if (!value?.length) continue;
        if (chunked) {
          await writeAll(
            conn,
            new TextEncoder().encode(value.length.toString(16) + "\r\n"),
          );
          await writeAll(conn, value);
          await writeAll(conn, CRLF);
        } else await writeAll(conn, value);
      }
    } catch {
      keep = false;
      await stream?.cancel().catch(() => {});
    }
    if (gone) keep = false;
    // The watcher's read may stay in flight: the next request reuses it.
    gone = true;
    return keep && !reader.eof;
  }
}

/** A chunked body, decoded and capped; undefined when the client ended. */
async function readChunked(
  reader: ConnReader,
  max: number,
  tooLarge: Refusal,
): Promise<Uint8Array<ArrayBuffer> | undefined> {
  const parts: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    let nl: number;
    while ((nl = indexOf(reader.buf, CRLF)) < 0) {
      if (reader.buf.length > 1024) throw bad("Malformed chunk size");
      if (!(await reader.fill())) return undefined;
    }
    const line = latin1(reader.take(nl)).split(";")[0]!.trim();
    reader.take(2);
    if (!/^[0-9a-fA-F]{1,8}$/.test(line)) throw bad("Malformed chunk size");
    const size = parseInt(line, 16);
    if (size === 0) break;
    total += size;
    if (total > max) throw tooLarge;
    while (reader.buf.length < size + 2) {
      if (!(await reader.fill())) return undefined;
    }
    parts.push(reader.take(size));
    if (reader.buf[0] !== 13 || reader.buf[1] !== 10) {
      throw bad("Malformed chunk");
    }
    reader.take(2);
  }
  // Trailers (ignored) up to the empty line.
  for (;;) {
    let nl: number;
    while ((nl = indexOf(reader.buf, CRLF)) < 0) {
      if (reader.buf.length > 8192) throw bad("Malformed chunk trailer");
      if (!(await reader.fill())) return undefined;
    }
    reader.take(nl + 2);
    if (nl === 0) break;
  }
  const out = new Uint8Array(total);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

function close(conn: Deno.Conn): void {
  try {
    conn.close();
  } catch {
    // already closed
  }
}

/**
 * The process's soft limit on open files (Linux: /proc/self/limits), or
 * undefined when unknown.
 */
export function openFileLimit(): number | undefined {
  try {
    const text = Deno.readTextFileSync("/proc/self/limits");
    const m = text.match(/^Max open files\s+(\d+|unlimited)/m);
    if (!m) return undefined;
    return m[1] === "unlimited" ? undefined : Number(m[1]);
  } catch {
    return undefined;
  }
}

/**
 * The default connection cap: half the open-file limit (the rest stays for
 * the journal, events, artifacts and dbt's processes), between 16 and 4096.
 */
export function defaultMaxConnections(limit = openFileLimit()): number {
  return Math.max(16, Math.min(4096, Math.floor((limit ?? 1024) / 2)));
}
