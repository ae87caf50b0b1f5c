/**
 * The kept input keys of `--skip-unchanged`: per target, beside the kept
 * manifest, `.floe/state/<target>/skip.json` holds each node's key at its
 * last build and how that build ended. Written after every run and build
 * (with or without the flag); atomic (temp file + rename), 0600, never
 * through a link, read under a size cap (src/os/safe_fs.ts).
 *
 * @module
 */
import { join } from "node:path";
import { z } from "zod";
import { FloeDbtError } from "../contract/errors.ts";
import {
  checkDirInside,
  ensureDirInside,
  readRegularText,
} from "../os/safe_fs.ts";
import { keptStateDir } from "../dbt/state.ts";
import { writeAtomic } from "../os/atomic.ts";

/** The file name inside the target's state directory. */
export const SKIP_FILE = "skip.json";
/** The warehouse look of the last plan (a guess for the next one). */
export const LOOK_FILE = "look.json";
/** The largest skip.json read. */
const MAX_BYTES = 64 * 1024 * 1024;

/** One node's last build. */
export const NodeRecordSchema = z.object({
  /** Its input key then. */
  key: z.string(),
  /** Its definition parts then (to say what changed). */
  parts: z.object({
    code: z.string(),
    config: z.string(),
    macros: z.string(),
    vars: z.string(),
    target: z.string(),
  }),
  /** Its parents' keys and sources' data versions then. */
  parents: z.record(z.string(), z.string()),
  /** dbt's status: success, pass, warn (reusable) or error, fail, skipped. */
  status: z.string(),
  /** When that build finished (ISO 8601). */
  built_at: z.string(),
  /** dbt's invocation id of that build. */
  invocation_id: z.string().nullable(),
  /**
   * The build (buildStamp) of each parent relation it was built on; absent
   * in records kept before it was added (then the node is rebuilt once).
   */
  built_on: z.record(z.string(), z.string()).optional(),
});
/** One node's last build. */
export type NodeRecord = z.infer<typeof NodeRecordSchema>;

/** Which build of a node a record is: its invocation and end time. */
export function buildStamp(
  r: Pick<NodeRecord, "built_at" | "invocation_id">,
): string {
  return `${r.invocation_id ?? "-"}@${r.built_at}`;
}

/** skip.json. */
export const SkipStoreSchema = z.object({
  version: z.literal(1),
  nodes: z.record(z.string(), NodeRecordSchema),
});
/** skip.json. */
export type SkipStore = z.infer<typeof SkipStoreSchema>;

/** Statuses whose result may be reused. */
export const REUSABLE: ReadonlySet<string> = new Set([
  "success",
  "pass",
  "warn",
]);

function fileOf(projectDir: string, target: string): string {
  return join(keptStateDir(projectDir, target), SKIP_FILE);
}

/**
 * The kept keys of a target; empty when there are none yet or the file is
 * not one floe-dbt wrote (it is rewritten on the next build). A link or an
 * oversized file is E003.
 */
export async function readSkipStore(
  projectDir: string,
  target: string,
): Promise<SkipStore> {
  const dir = keptStateDir(projectDir, target);
  if (!(await checkDirInside(projectDir, dir, "floe-dbt state directory"))) {
    return { version: 1, nodes: {} };
  }
  let text: string;
  try {
    text = await readRegularText(fileOf(projectDir, target), {
      root: projectDir,
      what: "skip state",
      maxBytes: MAX_BYTES,
    });
  } catch (e) {
    if (e instanceof FloeDbtError) throw e;
    return { version: 1, nodes: {} };
  }
  try {
    const parsed = SkipStoreSchema.safeParse(JSON.parse(text));
    return parsed.success ? parsed.data : { version: 1, nodes: {} };
  } catch {
    return { version: 1, nodes: {} };
  }
}

/**
 * Merge `updates` into the target's kept keys (read afresh, so a build
 * that finished in between keeps its records) and write them atomically.
 */
export async function updateSkipStore(
  projectDir: string,
  target: string,
  updates: Record<string, NodeRecord>,
): Promise<void> {
  if (Object.keys(updates).length === 0) return;
  const dir = await ensureDirInside(
    projectDir,
    keptStateDir(projectDir, target),
    "floe-dbt state directory",
  );
  const store = await readSkipStore(projectDir, target);
  Object.assign(store.nodes, updates);
  const text = JSON.stringify(SkipStoreSchema.parse(store)) + "\n";
  const path = join(dir, SKIP_FILE);
  await writeAtomic(path, text);
}

/**
 * Drop the kept records of `ids` (nodes built from other relations, by a
 * deferred call): each is rebuilt at its next `--skip-unchanged`, and so
 * are its children (their parent is unrecorded).
 */
export async function forgetRecords(
  projectDir: string,
  target: string,
  ids: Iterable<string>,
): Promise<void> {
  const drop = new Set(ids);
  if (!drop.size) return;
  const dir = keptStateDir(projectDir, target);
  if (!(await checkDirInside(projectDir, dir, "floe-dbt state directory"))) {
    return;
  }
  const store = await readSkipStore(projectDir, target);
  let changed = false;
  for (const id of drop) {
    if (id in store.nodes) {
      delete store.nodes[id];
      changed = true;
    }
  }
  if (!changed) return;
  const text = JSON.stringify(SkipStoreSchema.parse(store)) + "\n";
  await writeAtomic(join(dir, SKIP_FILE), text);
}

/** look.json: what the last plan asked the warehouse. */
export const LookSchema = z.object({
  adapterType: z.string(),
  prints: z.array(z.string()),
  schemas: z.array(z.string()),
});

/**
 * The warehouse look of the target's last plan, or undefined (none yet, or
 * not a file floe-dbt wrote). Only a guess: the plan checks it against the
 * manifest it parses, and the SQL built from it checks every name again.
 */
export async function readLook(
  projectDir: string,
  target: string,
): Promise<z.infer<typeof LookSchema> | undefined> {
  const dir = keptStateDir(projectDir, target);
  if (!(await checkDirInside(projectDir, dir, "floe-dbt state directory"))) {
    return undefined;
  }
  try {
    const text = await readRegularText(join(dir, LOOK_FILE), {
      root: projectDir,
      what: "skip look",
      maxBytes: MAX_BYTES,
    });
    const parsed = LookSchema.safeParse(JSON.parse(text));
    return parsed.success ? parsed.data : undefined;
  } catch (e) {
    if (e instanceof FloeDbtError) throw e;
    return undefined;
  }
}

/** Keep the warehouse look of this plan (atomic, 0600). */
export async function writeLook(
  projectDir: string,
  target: string,
  look: z.infer<typeof LookSchema>,
): Promise<void> {
  const dir = await ensureDirInside(
    projectDir,
    keptStateDir(projectDir, target),
    "floe-dbt state directory",
  );
  await writeAtomic(
    join(dir, LOOK_FILE),
    JSON.stringify(LookSchema.parse(look)) + "\n",
  );
}
