/**
 * Fallback to the local dbt-core runtime for targets Fusion cannot serve
 * (seed FR-039/040): warn, run locally and record it in the result's
 * metadata; with `fallback_to_core: false`, E006 instead.
 *
 * @module
 */
import type { LocalConfig } from "../../src/config/config.ts";
import { ERROR_CODES, FloeDbtError } from "../../src/contract/errors.ts";
import type { CallOptions } from "../../src/contract/runtime.ts";
import { LocalRuntime } from "../local/mod.ts";

/** A fallback that happened. */
export interface FallbackRecord {
  adapter: string;
  reason: string;
  at: string;
}

/** Fallback policy and bookkeeping of one fusion runtime. */
export class Fallback {
  #local: LocalRuntime | undefined;
  /** How many calls fell back. */
  count = 0;
  /** The latest fallback, or null. */
  last: FallbackRecord | null = null;

  constructor(
    readonly enabled: boolean,
    readonly localConfig: LocalConfig,
    readonly supported: string[],
  ) {}

  /** The local dbt-core runtime (created on first use). */
  local(): LocalRuntime {
    this.#local ??= new LocalRuntime(this.localConfig);
    return this.#local;
  }

  /** Run `work` on the local runtime, or throw E006 when disabled. */
  async run<T>(
    adapter: string,
    reason: string,
    work: (local: LocalRuntime) => Promise<T>,
    options: CallOptions,
  ): Promise<T> {
    if (!this.enabled) {
      throw new FloeDbtError(
        ERROR_CODES.adapterUnavailable,
        `Adapter '${adapter}' is unavailable in the fusion runtime: ${reason}. Supported adapters: ${
          this.supported.join(", ")
        }`,
        {
          hint:
            "set dbt_runtime_config.fusion.fallback_to_core: true to run such targets with dbt-core, use --runtime local, or list the adapter in dbt_runtime_config.fusion.adapters if your Fusion serves it",
          details: { adapter, supported: this.supported },
        },
      );
    }
    this.count++;
    this.last = { adapter, reason, at: new Date().toISOString() };
    options.onEvent?.({
      v: 1,
      type: "log",
      level: "warn",
      message: `${reason}: falling back to the local dbt-core runtime`,
      ts: this.last.at,
    });
    return await work(this.local());
  }

  /** Metadata recorded on a result that ran through the fallback. */
  metadata(adapter: string, reason: string): Record<string, unknown> {
    return {
      runtime: "fusion",
      executed_by: "local",
      fallback: true,
      fallback_reason: reason,
      adapter,
    };
  }

  /** Stop the local runtime's worker, if one was started. */
  async close(): Promise<void> {
    await this.#local?.close();
  }
}
