/**
 * dbt Labs' jaffle-shop assembled from checkouts of its public repository
 * and of the three packages its packages.yml asks for (never copied into
 * this repository): the project files into a folder, each package's
 * `dbt_project.yml` and `macros/` into `dbt_packages/<name>/`, a DuckDB
 * profile, and the two seeds too big for the snapshots (`raw_orders`,
 * `raw_items`) generated with the upstream files' columns from a fixed
 * seed: ids reference the checkout's customers, stores and products, and
 * each order's subtotal is the sum of its items' prices, so the project's
 * own data tests hold. Also the two YAML migrations Fusion demands of it.
 * Used by scripts/check_jaffle.ts.
 *
 * @module
 */
import { dirname, join } from "node:path";
import { parse } from "yaml";
import { copyProject, random, WAREHOUSE } from "../tests/_skip_project.ts";

/** The checkouts a `--sources` folder holds: folder name and repository. */
export const SOURCES = {
  project: {
    folder: "jaffle-shop",
    url: "https://github.com/dbt-labs/jaffle-shop.git",
  },
  packages: [
    {
      folder: "dbt-utils",
      url: "https://github.com/dbt-labs/dbt-utils.git",
    },
    {
      folder: "dbt-date",
      url: "https://github.com/godatadriven/dbt-date.git",
    },
    {
      folder: "dbt-audit-helper",
      url: "https://github.com/dbt-labs/dbt-audit-helper.git",
    },
  ],
} as const;

/** What of jaffle-shop's checkout dbt reads (no packages.yml, see below). */
const PROJECT_FILES = [
  "dbt_project.yml",
  "macros",
  "models",
  "seeds",
  "analyses",
  "data-tests",
  "snapshots",
];

/** What of a package's checkout dbt reads. */
const PACKAGE_FILES = ["dbt_project.yml", "macros", "LICENSE"];

/** The generated seeds (the checkout's, if any, are not used). */
const GENERATED = new Set(["raw_orders.csv", "raw_items.csv"]);

/** A package placed under dbt_packages/: its name and folder. */
export interface PlacedPackage {
  name: string;
  from: string;
}

/** What is missing from a `--sources` folder (empty: all there). */
export async function missingSources(sources: string): Promise<string[]> {
  const out: string[] = [];
  for (const s of [SOURCES.project, ...SOURCES.packages]) {
    const at = join(sources, s.folder, "dbt_project.yml");
    const ok = await Deno.stat(at).then((i) => i.isFile, () => false);
    if (!ok) out.push(`${s.folder}/dbt_project.yml (git clone ${s.url})`);
  }
  return out;
}

/** What jaffle-shop's packages.yml asks for, one line per package. */
export async function requestedPackages(sources: string): Promise<string[]> {
  const text = await Deno.readTextFile(
    join(sources, SOURCES.project.folder, "packages.yml"),
  ).catch(() => "");
  const doc = parse(text) as { packages?: Record<string, unknown>[] } | null;
  return (doc?.packages ?? []).map((p) =>
    p.package
      ? `${p.package} ${p.version}`
      : `${p.git} revision ${p.revision ?? "(default)"}`
  );
}

async function copyChosen(
  from: string,
  to: string,
  names: string[],
): Promise<void> {
  await Deno.mkdir(to, { recursive: true });
  for (const name of names) {
    const src = join(from, name);
    const info = await Deno.stat(src).catch(() => null);
    if (info?.isDirectory) await copyProject(src, join(to, name));
    else if (info?.isFile) await Deno.copyFile(src, join(to, name));
  }
}

async function writeFile(dir: string, rel: string, text: string) {
  const path = join(dir, rel);
  await Deno.mkdir(dirname(path), { recursive: true });
  await Deno.writeTextFile(path, text);
}

/** The project's seed folder (its seeds load into the `raw` schema). */
const SEEDS = "seeds/jaffle-data";

/** A UUID-shaped id drawn from `next`. */
function uuid(next: () => number): string {
  let hex = "";
  for (let i = 0; i < 4; i++) {
    hex += Math.floor(next() * 0x100000000).toString(16).padStart(8, "0");
  }
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-4${hex.slice(13, 16)}-a${
    hex.slice(17, 20)
  }-${hex.slice(20, 32)}`;
}

/** Rows of a CSV seed (no quoted commas in these files). */
async function csvRows(dir: string, name: string): Promise<string[][]> {
  const text = await Deno.readTextFile(join(dir, SEEDS, `${name}.csv`));
  return text.trim().split("\n").slice(1).map((l) => l.split(","));
}

/** One generated order and its items. */
export interface JaffleOrder {
  id: string;
  customer: string;
  ordered_at: string;
  store_id: string;
  subtotal: number;
  tax_paid: number;
  order_total: number;
  items: { id: string; sku: string }[];
}

/** What the generator draws from: the checkout's seeds' ids. */
export interface JaffleRefs {
  customers: string[];
  stores: { id: string; opened: number; tax: number }[];
  products: { sku: string; price: number }[];
}

/** Read the ids of the checkout's seeds in a project folder. */
export async function jaffleRefs(dir: string): Promise<JaffleRefs> {
  return {
    customers: (await csvRows(dir, "raw_customers")).map((r) => r[0]!),
    stores: (await csvRows(dir, "raw_stores")).map((r) => ({
      id: r[0]!,
      opened: Date.parse(`${r[2]}Z`),
      tax: Number(r[3]),
    })),
    products: (await csvRows(dir, "raw_products")).map((r) => ({
      sku: r[0]!,
      price: Number(r[3]),
    })),
  };
}

/**
 * `count` orders from `seed`, placed between `from` and `from + days`
 * (each at a store open by then), with one to four items each.
 */
export function generateOrders(
  refs: JaffleRefs,
  seed: number,
  count: number,
  from: Date,
  days: number,
): JaffleOrder[] {
  const next = random(seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(next() * xs.length)]!;
  const out: JaffleOrder[] = [];
  for (let i = 0; i < count; i++) {
    const at = from.getTime() + Math.floor(next() * days * 86400) * 1000;
    const open = refs.stores.filter((s) => s.opened <= at);
    const store = pick(open.length ? open : refs.stores);
    const items = Array.from({ length: 1 + Math.floor(next() * 4) }, () => ({
      id: uuid(next),
      sku: pick(refs.products).sku,
    }));
    const subtotal = items.reduce(
      (sum, it) => sum + refs.products.find((p) => p.sku === it.sku)!.price,
      0,
    );
    const tax = Math.round(subtotal * store.tax);
    out.push({
      id: uuid(next),
      customer: pick(refs.customers),
      ordered_at: new Date(at).toISOString().slice(0, 19),
      store_id: store.id,
      subtotal,
      tax_paid: tax,
      order_total: subtotal + tax,
      items,
    });
  }
  return out;
}

/** The `raw_orders` and `raw_items` CSV texts of these orders. */
export function ordersCsv(orders: JaffleOrder[]): {
  orders: string;
  items: string;
} {
  const o = ["id,customer,ordered_at,store_id,subtotal,tax_paid,order_total"];
  const it = ["id,order_id,sku"];
  for (const x of orders) {
    o.push(
      [
        x.id,
        x.customer,
        x.ordered_at,
        x.store_id,
        x.subtotal,
        x.tax_paid,
        x.order_total,
      ].join(","),
    );
    for (const i of x.items) it.push(`${i.id},${x.id},${i.sku}`);
  }
  return { orders: o.join("\n") + "\n", items: it.join("\n") + "\n" };
}

/** SQL appending these orders (not their items) to the loaded `raw_orders`. */
export function appendOrdersSql(orders: JaffleOrder[]): string {
  const rows = orders.map((x) =>
    `('${x.id}', '${x.customer}', timestamp '${
      x.ordered_at.replace("T", " ")
    }', '${x.store_id}', ${x.subtotal}, ${x.tax_paid}, ${x.order_total})`
  );
  return `insert into raw.raw_orders (id, customer, ordered_at, store_id, subtotal, tax_paid, order_total) values ${
    rows.join(", ")
  }`;
}

/** The DuckDB profile, under jaffle-shop's profile name (`default`). */
export const JAFFLE_PROFILE =
  `default:\n  target: dev\n  outputs:\n    dev:\n      type: duckdb\n      path: ${WAREHOUSE}\n      threads: 2\n`;

/**
 * Assemble jaffle-shop from the checkouts in `sources` into `dir`: its
 * project files, its three packages under `dbt_packages/` (its packages.yml
 * and package-lock.yml are left out, so no tool tries to download them),
 * its profile, and `count` generated orders (2018-2019, when its stores
 * were open) in the two big seeds. Returns the packages placed.
 */
export async function makeJaffleProject(
  sources: string,
  dir: string,
  count = 1500,
): Promise<PlacedPackage[]> {
  const project = join(sources, SOURCES.project.folder);
  await copyChosen(project, dir, PROJECT_FILES);
  for (const name of GENERATED) {
    await Deno.remove(join(dir, SEEDS, name)).catch(() => {});
  }
  const placed: PlacedPackage[] = [];
  for (const p of SOURCES.packages) {
    const from = join(sources, p.folder);
    const meta = parse(
      await Deno.readTextFile(join(from, "dbt_project.yml")),
    ) as { name: string };
    await copyChosen(from, join(dir, "dbt_packages", meta.name), PACKAGE_FILES);
    placed.push({ name: meta.name, from: p.folder });
  }
  await writeFile(dir, "profiles.yml", JAFFLE_PROFILE);
  const refs = await jaffleRefs(dir);
  const csv = ordersCsv(
    generateOrders(
      refs,
      20161201,
      count,
      new Date("2018-01-01T00:00:00Z"),
      720,
    ),
  );
  await writeFile(dir, `${SEEDS}/raw_orders.csv`, csv.orders);
  await writeFile(dir, `${SEEDS}/raw_items.csv`, csv.items);
  await Deno.mkdir(join(dir, ".floe"), { recursive: true });
  return placed;
}

/** A generic test entry whose arguments sit at its top level. */
const TEST_ENTRY =
  /^(\s*)- (?:dbt_utils\.)?(?:expression_is_true|relationships|accepted_values):\s*$/;
const TEST_ARGUMENT = /^\s*(?:expression|to|field|values): /;

/**
 * The two changes Fusion (2.0 preview) requires of this jaffle-shop before
 * it parses it (dbt1159: generic test arguments at the top level; dbt1060:
 * `loaded_at_field` outside `config`): test arguments moved under
 * `arguments:`, `loaded_at_field` under `config:`, as dbt-autofix does.
 * dbt-core 1.11 reads both forms alike. Returns how many were moved.
 */
export async function migrateForFusion(
  dir: string,
): Promise<{ tests: number; sources: number }> {
  let tests = 0;
  let sources = 0;
  for (const folder of ["models/staging", "models/marts"]) {
    for await (const e of Deno.readDir(join(dir, folder))) {
      if (!e.name.endsWith(".yml")) continue;
      const path = join(dir, folder, e.name);
      const out: string[] = [];
      const lines = (await Deno.readTextFile(path)).split("\n");
      for (let i = 0; i < lines.length; i++) {
        const line = lines[i]!;
        const loaded = /^(\s+)loaded_at_field: (.*)$/.exec(line);
        if (loaded) {
          out.push(
            `${loaded[1]}config:`,
            `${loaded[1]}  loaded_at_field: ${loaded[2]}`,
          );
          sources++;
          continue;
        }
        out.push(line);
        const entry = TEST_ENTRY.exec(line);
        if (!entry) continue;
        const pad = `${entry[1]}    `;
        const args: string[] = [];
        while (
          lines[i + 1]?.startsWith(pad) && TEST_ARGUMENT.test(lines[i + 1]!)
        ) {
          args.push(`  ${lines[++i]}`);
        }
        if (args.length) {
          out.push(`${pad}arguments:`, ...args);
          tests++;
        }
      }
      await Deno.writeTextFile(path, out.join("\n"));
    }
  }
  return { tests, sources };
}
