/**
 * The agent's side of the warm dbt-core worker: start it, send one request at
 * a time, stream its events, notice when it dies, stop its process group.
 *
 * @module
 */
import { childEnv } from "../../src/os/child_env.ts";
import { dirname, join, resolve } from "node:path";
import { ERROR_CODES, FloeDbtError } from "../../src/contract/errors.ts";
import { cacheDir } from "../../src/os/paths.ts";
import {
  PRIVATE_DIR,
  PRIVATE_FILE,
  privateDir,
} from "../../src/os/private_dir.ts";
import { WORKER_PROTOCOL, WORKER_PY } from "./worker_py.ts";
import { writeAtomic } from "../../src/os/atomic.ts";

/** How long importing dbt may take before the start counts as failed. */
const START_TIMEOUT_MS = 120_000;

/** What the worker says when it has imported dbt. */
export interface WorkerReady {
  pid: number;
  dbt_version: string;
  python_version: string;
  import_seconds: number;
  [pkg: string]: unknown;
}

/** A dbt event as the worker forwards it. */
export interface WorkerEvent {
  name: string;
  level: string;
  msg: string;
  /** dbt's thread name (`Thread-1 (worker)`). */
  thread?: string;
  data: Record<string, unknown>;
}

/** The worker's reply to an invoke. */
export interface WorkerResult {
  success: boolean;
  exception: { type: string; module: string; message: string } | null;
  reused_manifest?: boolean;
  parse_seconds?: number;
  /** Per-node facts (facts_py.ts), when the request asked for them. */
  node_facts?: unknown;
  trace?: string;
  /** With `capture`: a show's preview (JSON text with `--output json`). */
  preview?: string | null;
  /** With `capture`: a list's lines (`dbt ls`). */
  lines?: string[];
}

/** One invoke request. */
export interface InvokeRequest {
  command: string;
  /** The agent's flags (project, profiles, target, logs): passed last. */
  common: string[];
  /** The call's arguments (selection, command flags): passed first. */
  args: string[];
  cwd: string;
  env: Record<string, string>;
  fingerprint: string | null;
  /** Compute per-node facts after the run (facts_py.ts), with these options. */
  facts?: { row_counts: boolean } | null;
  /** Return a show's preview and a list's lines. */
  capture?: boolean;
  /** Only parse, and write the manifest to this file. */
  write_manifest?: string;
}

interface Pending {
  resolve(r: WorkerResult): void;
  reject(e: unknown): void;
  onEvent(e: WorkerEvent): void;
}

/** The worker script's bytes and their SHA-256 (hex). */
async function scriptBytes(): Promise<{ bytes: Uint8Array; hash: string }> {
  const bytes = new TextEncoder().encode(WORKER_PY);
  const hash = Array.from(
    new Uint8Array(await crypto.subtle.digest("SHA-256", bytes)),
  ).map((b) => b.toString(16).padStart(2, "0")).join("");
  return { bytes, hash };
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/**
 * Write the worker script, or check the one written before: called before
 * every start. The cache folder and the script's own folder must be the
 * agent's (E003 otherwise, see private_dir.ts); the script's folder is made
 * 0700 when it is only readable by others (as older agents left it). A
 * script whose bytes differ from this agent's (changed on disk, or a link)
 * is replaced before Python reads it.
 */
export async function writeScript(): Promise<string> {
  const { bytes, hash } = await scriptBytes();
  const cache = cacheDir();
  await privateDir(cache, "cache directory (FLOE_DBT_CACHE_DIR)");
  // One directory per script version holding only that file: dbt's spawned
  // helper processes must never see another version of the worker.
  const dir = join(cache, `worker-v${WORKER_PROTOCOL}-${hash.slice(0, 16)}`);
  const info = await privateDir(dir, "worker directory");
  if (((info.mode ?? 0) & 0o077) !== 0) await Deno.chmod(dir, PRIVATE_DIR);
  const path = join(dir, "floe_dbt_worker.py");
  try {
    const st = await Deno.lstat(path);
    if (st.isFile && sameBytes(await Deno.readFile(path), bytes)) return path;
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
  }
  // rename(2) replaces a changed script or a link, never follows it.
  await writeAtomic(path, bytes, PRIVATE_FILE);
  return path;
}

/** A running Python worker with dbt imported. */
export class Worker {
  readonly ready: WorkerReady;
  readonly #child: Deno.ChildProcess;
  readonly #stdin: WritableStreamDefaultWriter<Uint8Array>;
  #pending: Pending | undefined;
  readonly #stderr: { text: string };
  #exited = false;
  #exitStatus: Deno.CommandStatus | undefined;
  #nextId = 1;
  /** dbt invocations served (parse included). */
  invocations = 0;

  private constructor(
    child: Deno.ChildProcess,
    ready: WorkerReady,
    lines: AsyncIterator<string>,
    stderr: { text: string },
  ) {
    this.#child = child;
    this.#stderr = stderr;
    this.ready = ready;
    this.#stdin = child.stdin.getWriter();
    this.#pump(lines);
    child.status.then((s) => {
      this.#exited = true;
      this.#exitStatus = s;
      this.#pending?.reject(this.#diedError());
      this.#pending = undefined;
    });
  }

  /** Start a worker with the given Python; resolves once dbt is imported. */
  static async start(python: string): Promise<Worker> {
    const script = await writeScript();
    let child: Deno.ChildProcess;
    try {
      // -I: isolated. Neither the script's folder nor the current one is on
      // sys.path, and PYTHON* variables and user site-packages are ignored:
      // only the interpreter's own environment is imported. It starts in the
      // script's private folder (never a project); each call chdirs to its
      // project. A relative python is taken from the agent's folder.
      child = new Deno.Command(
        python.includes("/") ? resolve(python) : python,
        {
          args: ["-I", "-u", script],
          cwd: dirname(script),
          stdin: "piped",
          stdout: "piped",
          stderr: "piped",
          detached: true,
          clearEnv: true,
          env: childEnv({
            PYTHONUNBUFFERED: "1",
            DBT_SEND_ANONYMOUS_USAGE_STATS: "false",
          }),
        },
      ).spawn();
    } catch (e) {
      throw new FloeDbtError(
        ERROR_CODES.configuration,
        `Cannot start the dbt-core worker with Python '${python}': ${
          (e as Error).message
        }`,
        {
          hint:
            "run scripts/setup, or set FLOE_DBT_PYTHON / dbt_runtime_config.local.python",
        },
      );
    }
    const stderrTail = { text: "" };
    (async () => {
      for await (
        const chunk of child.stderr.pipeThrough(new TextDecoderStream())
      ) {
        stderrTail.text = (stderrTail.text + chunk).slice(-8000);
        if (Deno.env.get("FLOE_DBT_DEBUG")) {
          await Deno.stderr.write(new TextEncoder().encode(chunk));
        }
      }
    })().catch(() => {});
    const lines = readLines(child.stdout);
    const killGroup = () => {
      try {
        Deno.kill(-child.pid, "SIGKILL");
      } catch {
        // already gone
      }
    };
    let timer: ReturnType<typeof setTimeout> | undefined;
    const first = await Promise.race([
      lines.next(),
      new Promise<"timeout">((r) => {
        timer = setTimeout(() => r("timeout"), START_TIMEOUT_MS);
      }),
    ]).finally(() => clearTimeout(timer));
    if (first === "timeout") {
      killGroup();
      throw new FloeDbtError(
        ERROR_CODES.configuration,
        `The dbt-core worker did not start within ${
          START_TIMEOUT_MS / 1000
        } s: ${lastLines(stderrTail.text) || "no output"}`,
        { hint: "check the dbt-core environment: run scripts/setup" },
      );
    }
    if (first.done) {
      const status = await child.status;
      throw new FloeDbtError(
        ERROR_CODES.configuration,
        `The dbt-core worker exited before it was ready (exit ${status.code}): ${
          lastLines(stderrTail.text)
        }`,
        {
          hint:
            "check that dbt-core is installed in that Python: run scripts/setup",
        },
      );
    }
    let ready: WorkerReady & { type: string };
    try {
      ready = JSON.parse(first.value);
    } catch {
      killGroup();
      throw new FloeDbtError(
        ERROR_CODES.configuration,
        `The dbt-core worker said something unexpected instead of 'ready': ${
          first.value.slice(0, 200)
        }`,
        { hint: "check the Python configured for the local runtime" },
      );
    }
    return new Worker(child, ready, lines, stderrTail);
  }

  /** True once the process has exited. */
  get exited(): boolean {
    return this.#exited;
  }

  /** Resident memory of the worker in MiB (Linux /proc), or undefined. */
  async rssMb(): Promise<number | undefined> {
    try {
      const status = await Deno.readTextFile(`/proc/${this.ready.pid}/status`);
      const m = status.match(/VmRSS:\s+(\d+)\s+kB/);
      return m ? Number(m[1]) / 1024 : undefined;
    } catch {
      return undefined;
    }
  }

  /** Send one invoke; events arrive through onEvent until it resolves. */
  invoke(
    req: InvokeRequest,
    onEvent: (e: WorkerEvent) => void,
  ): Promise<WorkerResult> {
    if (this.#exited) return Promise.reject(this.#diedError());
    if (this.#pending) {
      return Promise.reject(new Error("worker is busy (internal error)"));
    }
    const id = this.#nextId++;
    const line = JSON.stringify({ id, op: "invoke", ...req }) + "\n";
    return new Promise((resolve, reject) => {
      this.#pending = { resolve, reject, onEvent };
      this.#stdin.write(new TextEncoder().encode(line)).catch(() => {
        // The exit handler reports the failure.
      });
    }).then((r) => {
      this.invocations += (r as WorkerResult).parse_seconds ? 2 : 1;
      return r as WorkerResult;
    });
  }

  /** Stop the worker's whole process group: SIGTERM, then SIGKILL. */
  async stop(graceMs = 5000): Promise<void> {
    if (this.#exited) return;
    try {
      await this.#stdin.close();
    } catch {
      // already closed
    }
    this.#killGroup("SIGTERM");
    const timer = setTimeout(() => this.#killGroup("SIGKILL"), graceMs);
    await this.#child.status;
    clearTimeout(timer);
    // dbt's own children may outlive the leader: finish the group.
    this.#killGroup("SIGKILL");
  }

  #killGroup(signal: Deno.Signal) {
    try {
      Deno.kill(-this.ready.pid, signal);
    } catch {
      // the group is gone
    }
  }

  #diedError(): FloeDbtError {
    const s = this.#exitStatus;
    const how = s?.signal ? `killed by ${s.signal}` : `exit code ${s?.code}`;
    const tail = lastLines(this.#stderr.text);
    return new FloeDbtError(
      ERROR_CODES.execution,
      `The dbt-core worker (pid ${this.ready.pid}) died during the call (${how})${
        tail ? `: ${tail}` : ""
      }`,
      {
        hint:
          "the next call starts a fresh worker; if it was out of memory, lower dbt threads or raise the pod's memory",
      },
    );
  }

  async #pump(lines: AsyncIterator<string>) {
    for (;;) {
      const next = await lines.next().catch(() => ({ done: true, value: "" }));
      if (next.done) return;
      let msg: Record<string, unknown>;
      try {
        msg = JSON.parse(next.value);
      } catch {
        continue;
      }
      const pending = this.#pending;
      if (!pending) continue;
      if (msg.type === "event") {
        pending.onEvent(msg as unknown as WorkerEvent);
      } else if (msg.type === "result") {
        this.#pending = undefined;
        pending.resolve(msg as unknown as WorkerResult);
      }
    }
  }
}

function lastLines(text: string, n = 5): string {
  return text.trim().split("\n").slice(-n).join(" | ");
}

async function* readLines(
  stream: ReadableStream<Uint8Array>,
): AsyncGenerator<string> {
  let buf = "";
  for await (const chunk of stream.pipeThrough(new TextDecoderStream())) {
    buf += chunk;
    let i;
    while ((i = buf.indexOf("\n")) >= 0) {
      yield buf.slice(0, i);
      buf = buf.slice(i + 1);
    }
  }
  if (buf) yield buf;
}
