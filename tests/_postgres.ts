/**
 * A throwaway PostgreSQL cluster for tests: Debian's server binaries
 * (installed by scripts/setup --tests), initdb in a temp dir, started on a free
 * loopback port with trust auth, stopped and removed on dispose. As root the
 * server runs as the `postgres` system user (PostgreSQL refuses root).
 *
 * @module
 */
import { join } from "./_path.ts";

/** A running cluster. */
export interface PgCluster {
  port: number;
  user: string;
  /** Run SQL with psql; returns trimmed unaligned output. */
  sql(query: string): Promise<string>;
  [Symbol.asyncDispose](): Promise<void>;
}

function pgBin(name: string): string {
  for (const e of Deno.readDirSync("/usr/lib/postgresql")) {
    const p = join("/usr/lib/postgresql", e.name, "bin", name);
    try {
      if (Deno.statSync(p).isFile) return p;
    } catch {
      // next version
    }
  }
  throw new Error(`PostgreSQL '${name}' not found: run scripts/setup`);
}

function freePort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  return port;
}

async function run(cmd: string, args: string[], asUser: boolean) {
  const root = Deno.uid() === 0;
  const full = root && asUser
    ? ["runuser", ["-u", "postgres", "--", cmd, ...args]] as const
    : [cmd, args] as const;
  const out = await new Deno.Command(full[0], {
    args: [...full[1]],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  const dec = new TextDecoder();
  if (!out.success) {
    throw new Error(
      `${cmd} failed: ${dec.decode(out.stderr)}${dec.decode(out.stdout)}`,
    );
  }
  return dec.decode(out.stdout).trim();
}

/** Start a fresh cluster. */
export async function startPostgres(): Promise<PgCluster> {
  const dir = await Deno.makeTempDir({ prefix: "floe-pg-" });
  if (Deno.uid() === 0) {
    const uid = Number(await run("id", ["-u", "postgres"], false));
    const gid = Number(await run("id", ["-g", "postgres"], false));
    await Deno.chown(dir, uid, gid);
  }
  const data = join(dir, "data");
  const user = "floe";
  const port = freePort();
  await run(pgBin("initdb"), [
    "-D",
    data,
    "-U",
    user,
    "-A",
    "trust",
    "--no-sync",
    "-E",
    "UTF8",
  ], true);
  await run(pgBin("pg_ctl"), [
    "-D",
    data,
    "-l",
    join(dir, "server.log"),
    "-w",
    "-o",
    `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off`,
    "start",
  ], true);
  return {
    port,
    user,
    sql: (query) =>
      run("psql", [
        "-h",
        "127.0.0.1",
        "-p",
        String(port),
        "-U",
        user,
        "-d",
        "postgres",
        "-At",
        "-c",
        query,
      ], false),
    async [Symbol.asyncDispose]() {
      await run(pgBin("pg_ctl"), ["-D", data, "-m", "immediate", "stop"], true)
        .catch(() => {});
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    },
  };
}
