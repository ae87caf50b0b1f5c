/**
 * Who the daemon of a state directory is, so its generated token goes only
 * to it. `serve` writes `<state-dir>/daemon.json` (0600: pid, port, host)
 * once it listens and removes it on a clean stop. A client on this machine
 * sends `<state-dir>/token` only when the URL's port is the recorded one,
 * the recorded pid is alive, and that pid holds every listening socket on
 * the port (Linux: the LISTEN sockets in /proc/net/tcp{,6} against the
 * `socket:[inode]` links in /proc/<pid>/fd). Another user who binds the port
 * while the daemon is down gets no token. Where /proc cannot be read the
 * implicit token is refused: the caller passes one explicitly.
 *
 * @module
 */
import { join } from "node:path";
import { ERROR_CODES, FloeDbtError } from "../contract/errors.ts";
import { PRIVATE_FILE } from "../os/private_dir.ts";
import { writeAtomic } from "../os/atomic.ts";

/** What `daemon.json` says. */
export interface DaemonIdentity {
  pid: number;
  port: number;
  host: string;
  started_at: string;
}

/** Where a state directory records its daemon. */
export function identityPath(stateDir: string): string {
  return join(stateDir, "daemon.json");
}

/** Record this process as the state directory's daemon (0600, atomic). */
export async function writeIdentity(
  stateDir: string,
  host: string,
  port: number,
): Promise<void> {
  const me: DaemonIdentity = {
    pid: Deno.pid,
    port,
    host,
    started_at: new Date().toISOString(),
  };
  const path = identityPath(stateDir);
  await writeAtomic(path, JSON.stringify(me) + "\n", PRIVATE_FILE);
}

/** Remove the record on a clean stop (only when it is still this process's). */
export async function removeIdentity(stateDir: string): Promise<void> {
  const path = identityPath(stateDir);
  try {
    const id = JSON.parse(await Deno.readTextFile(path)) as DaemonIdentity;
    if (id.pid === Deno.pid) await Deno.remove(path);
  } catch {
    // gone already, or another daemon's now
  }
}

/** May the generated token be sent? */
export type IdentityVerdict =
  | { kind: "ok" }
  /** Nothing listens on the port: send nothing (the call cannot connect). */
  | { kind: "down" }
  | { kind: "refused"; reason: string };

function urlPort(url: URL): number {
  if (url.port) return Number(url.port);
  return url.protocol === "https:" ? 443 : 80;
}

async function readIdentity(
  stateDir: string,
): Promise<DaemonIdentity | string> {
  const path = identityPath(stateDir);
  let st: Deno.FileInfo;
  try {
    st = await Deno.lstat(path);
  } catch {
    return `'${path}' is missing: no daemon of this state directory is running`;
  }
  const uid = Deno.uid();
  if (!st.isFile || (uid !== null && st.uid !== null && st.uid !== uid)) {
    return `'${path}' is not a regular file of this user`;
  }
  if (((st.mode ?? 0) & 0o022) !== 0) {
    return `'${path}' is writable by other users`;
  }
  try {
    const id = JSON.parse(await Deno.readTextFile(path));
    if (Number.isInteger(id?.pid) && Number.isInteger(id?.port)) return id;
  } catch {
    // below
  }
  return `'${path}' cannot be read as the daemon's pid and port`;
}

/** Inodes of the LISTEN sockets on a TCP port (IPv4 and IPv6). */
async function listeningInodes(port: number): Promise<Set<string> | string> {
  const inodes = new Set<string>();
  let read = 0;
  for (const table of ["/proc/net/tcp", "/proc/net/tcp6"]) {
    let text: string;
    try {
      text = await Deno.readTextFile(table);
    } catch {
      continue;
    }
    read++;
    for (const line of text.split("\n").slice(1)) {
      const f = line.trim().split(/\s+/);
      if (f.length < 10 || f[3] !== "0A") continue; // 0A: LISTEN
      const local = f[1]!;
      if (parseInt(local.slice(local.lastIndexOf(":") + 1), 16) !== port) {
        continue;
      }
      inodes.add(f[9]!);
    }
  }
  return read ? inodes : "/proc/net/tcp cannot be read on this system";
}

async function socketInodesOf(pid: number): Promise<Set<string> | string> {
  const out = new Set<string>();
  try {
    for await (const e of Deno.readDir(`/proc/${pid}/fd`)) {
      try {
        const m = (await Deno.readLink(`/proc/${pid}/fd/${e.name}`)).match(
          /^socket:\[(\d+)\]$/,
        );
        if (m) out.add(m[1]!);
      } catch {
        // closed meanwhile
      }
    }
  } catch (e) {
    return e instanceof Deno.errors.NotFound
      ? `the daemon's pid ${pid} is not running`
      : `the open files of pid ${pid} cannot be read (${(e as Error).message})`;
  }
  return out;
}

/** Whether `<state-dir>/token` may be sent to `url` (see the module doc). */
export async function checkIdentity(
  stateDir: string,
  url: string,
): Promise<IdentityVerdict> {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return { kind: "refused", reason: `'${url}' is not a URL` };
  }
  const port = urlPort(parsed);
  const id = await readIdentity(stateDir);
  if (typeof id === "string") return { kind: "refused", reason: id };
  if (id.port !== port) {
    return {
      kind: "refused",
      reason:
        `the daemon of this state directory (pid ${id.pid}) listens on port ${id.port}, not ${port}`,
    };
  }
  const listening = await listeningInodes(port);
  if (typeof listening === "string") {
    return { kind: "refused", reason: listening };
  }
  if (listening.size === 0) return { kind: "down" };
  const held = await socketInodesOf(id.pid);
  if (typeof held === "string") {
    return {
      kind: "refused",
      reason: `${held}, yet something listens on port ${port}`,
    };
  }
  for (const inode of listening) {
    if (!held.has(inode)) {
      return {
        kind: "refused",
        reason:
          `port ${port} is held by a process other than the daemon (pid ${id.pid})`,
      };
    }
  }
  return { kind: "ok" };
}

/** E011 for a refused implicit token, with what to do. */
export function identityRefused(
  tokenFile: string,
  url: string,
  reason: string,
): FloeDbtError {
  return new FloeDbtError(
    ERROR_CODES.forbidden,
    `Not sending the daemon's token ('${tokenFile}') to ${url}: ${reason}`,
    {
      hint:
        "start the daemon with 'floe-dbt serve' (or check what listens on that port); to send a token anyway, pass --token-file FILE or set FLOE_DBT_TOKEN",
    },
  );
}
