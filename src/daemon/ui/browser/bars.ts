/**
 * Browser side, pure (no DOM; tested in src/daemon/ui/bars_test.ts): a job's
 * node bars from its progress events, each on the dbt thread that ran it
 * (without thread names, on the first lane free when it started), and the
 * nodes a `--skip-unchanged` job reused or rebuilt, from its metadata.
 *
 * @module
 */

/** The fields of a progress event the bars read. */
export interface NodeEvent {
  type: string;
  ts: string;
  unique_id?: string;
  resource_type?: string;
  name?: string;
  status?: string;
  execution_time?: number | null;
  message?: string | null;
  thread?: string;
}

/** One node's bar. */
export interface Bar {
  id: string;
  name: string;
  type: string;
  status: string;
  thread: string | undefined;
  /** ms since the epoch. */
  start: number;
  /** ms since the epoch; null while running. */
  end: number | null;
  seconds: number | null;
  message: string | null;
  lane: number;
}

/** The bars of `events` and the names of their lanes. */
export function barsOf(
  events: readonly NodeEvent[],
): { bars: Bar[]; lanes: string[] } {
  const byId = new Map<string, Bar>();
  for (const e of events) {
    if (!e.unique_id) continue;
    const t = Date.parse(e.ts);
    if (e.type === "node_started") {
      if (byId.has(e.unique_id)) continue;
      byId.set(e.unique_id, {
        id: e.unique_id,
        name: e.name ?? e.unique_id,
        type: e.resource_type ?? "",
        status: "running",
        thread: e.thread,
        start: t,
        end: null,
        seconds: null,
        message: null,
        lane: 0,
      });
    } else if (e.type === "node_finished") {
      const secs = e.execution_time ?? null;
      const bar = byId.get(e.unique_id) ?? {
        id: e.unique_id,
        name: e.name ?? e.unique_id,
        type: e.resource_type ?? "",
        status: "",
        thread: e.thread,
        start: t - (secs ?? 0) * 1000,
        end: null,
        seconds: null,
        message: null,
        lane: 0,
      };
      bar.end = t;
      bar.status = e.status ?? "unknown";
      bar.seconds = secs;
      bar.message = e.message ?? null;
      bar.thread ??= e.thread;
      byId.set(e.unique_id, bar);
    }
  }
  const bars = [...byId.values()].sort((a, b) => a.start - b.start);
  if (bars.length && bars.every((b) => b.thread)) {
    const num = (t: string) => Number(t.match(/\d+/)?.[0] ?? 0);
    const lanes = [...new Set(bars.map((b) => b.thread!))].sort((a, b) =>
      num(a) - num(b) || a.localeCompare(b)
    );
    for (const b of bars) b.lane = lanes.indexOf(b.thread!);
    return { bars, lanes: lanes.map((l) => l.replace(/ \(worker\)$/, "")) };
  }
  const free: number[] = [];
  for (const b of bars) {
    let lane = free.findIndex((end) => end <= b.start);
    if (lane < 0) lane = free.push(0) - 1;
    free[lane] = b.end ?? Infinity;
    b.lane = lane;
  }
  return { bars, lanes: free.map((_, i) => `lane ${i + 1}`) };
}

/**
 * `metadata.reused` / `metadata.rebuilt` in any plain shape (a list of ids,
 * of `{unique_id, reason}`, or a map id → reason) as `[id, reason]` pairs.
 */
export function reasons(value: unknown): [string, string][] {
  if (Array.isArray(value)) {
    return value.map((v): [string, string] => {
      if (typeof v === "string") return [v, ""];
      const o = (v ?? {}) as Record<string, unknown>;
      return [
        typeof o.unique_id === "string" ? o.unique_id : JSON.stringify(v),
        typeof o.reason === "string" ? o.reason : "",
      ];
    });
  }
  if (value && typeof value === "object") {
    return Object.entries(value).map(([k, v]): [string, string] => [
      k,
      typeof v === "string" ? v : JSON.stringify(v),
    ]);
  }
  return [];
}
