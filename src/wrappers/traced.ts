/**
 * `tracedRuntime(rt)`: a DbtRuntime that opens one span per operation of the
 * runtime it wraps (`floe_dbt.execute`, `floe_dbt.compile`, `floe_dbt.lint`,
 * ...), child of the active context. dbt's per-node progress
 * (`node_finished`) becomes span events named `dbt.node` on that span rather
 * than child spans: a node's start and end come from dbt's log, not from our
 * own clock, and events keep big projects' traces small.
 *
 * @module
 */
import { thrownSummary } from "../contract/error_summary.ts";
import {
  type Attributes,
  context,
  type Span,
  SpanStatusCode,
  trace,
} from "@opentelemetry/api";
import { RuntimeWrapper } from "./base.ts";
import type {
  CallOptions,
  DbtRuntime,
  ProjectRef,
  Selection,
} from "../contract/runtime.ts";
import type {
  DbtCommand,
  LintResult,
  ProgressEvent,
  RunResult,
} from "../contract/schemas.ts";
import { ATTR, tracer } from "../telemetry/tracer.ts";

function projectAttrs(project: ProjectRef): Attributes {
  return {
    [ATTR.project]: project.projectDir,
    ...(project.target ? { [ATTR.target]: project.target } : {}),
  };
}

function selectionAttrs(selection: Selection | undefined): Attributes {
  return {
    ...(selection?.select?.length ? { [ATTR.select]: selection.select } : {}),
    ...(selection?.exclude?.length
      ? { [ATTR.exclude]: selection.exclude }
      : {}),
  };
}

/** Span attributes of a run result. */
export function resultAttrs(r: RunResult): Attributes {
  const code = r.metadata.error_code;
  return {
    [ATTR.success]: r.success,
    [ATTR.modelsRun]: r.models_run,
    [ATTR.testsRun]: r.tests_run,
    [ATTR.failures]: r.failures,
    [ATTR.fallback]: r.metadata.fallback === true,
    ...(typeof code === "string" ? { [ATTR.errorCode]: code } : {}),
  };
}

function errorCodeOf(e: unknown): string | undefined {
  const code = (e as { code?: unknown } | null)?.code;
  return typeof code === "string" ? code : undefined;
}

/**
 * Record a thrown error on a span: its code, dbt's error class and the node
 * (error_summary.ts), never dbt's text (data values, SQL lines).
 */
export function recordError(span: Span, e: unknown): void {
  const code = errorCodeOf(e);
  if (code) span.setAttribute(ATTR.errorCode, code);
  span.setStatus({ code: SpanStatusCode.ERROR, message: thrownSummary(e) });
}

class TracedRuntime extends RuntimeWrapper {
  constructor(rt: DbtRuntime) {
    super(rt);
  }

  /** Run `f` in a span; `done` adds attributes from the result. */
  async #span<T>(
    name: string,
    attrs: Attributes,
    options: CallOptions | undefined,
    f: (options: CallOptions) => Promise<T>,
    done?: (span: Span, value: T) => void,
  ): Promise<T> {
    const parent = context.active();
    const span = tracer().startSpan(name, {
      attributes: { [ATTR.runtime]: this.inner.name, ...attrs },
    }, parent);
    const onEvent = (e: ProgressEvent) => {
      if (e.type === "node_finished") {
        span.addEvent("dbt.node", {
          "dbt.node.unique_id": e.unique_id,
          "dbt.node.resource_type": e.resource_type,
          "dbt.node.status": e.status,
          ...(e.execution_time !== null
            ? { "dbt.node.execution_time_s": e.execution_time }
            : {}),
        });
      }
      options?.onEvent?.(e);
    };
    try {
      const value = await context.with(
        trace.setSpan(parent, span),
        () => f({ ...options, onEvent }),
      );
      done?.(span, value);
      return value;
    } catch (e) {
      recordError(span, e);
      throw e;
    } finally {
      span.end();
    }
  }

  #run(span: Span, r: RunResult): void {
    span.setAttributes(resultAttrs(r));
    if (!r.success) span.setStatus({ code: SpanStatusCode.ERROR });
  }

  override compileProject(
    project: ProjectRef,
    options?: CallOptions,
  ): Promise<string> {
    return this.#span(
      "floe_dbt.compile",
      { [ATTR.command]: "compile", ...projectAttrs(project) },
      options,
      (o) => this.inner.compileProject(project, o),
    );
  }

  override execute(
    command: DbtCommand,
    project: ProjectRef,
    selection?: Selection,
    options?: CallOptions,
  ): Promise<RunResult> {
    return this.#span(
      "floe_dbt.execute",
      {
        [ATTR.command]: command,
        ...projectAttrs(project),
        ...selectionAttrs(selection),
      },
      options,
      (o) => this.inner.execute(command, project, selection, o),
      (s, r) => this.#run(s, r),
    );
  }

  override lintProject(
    project: ProjectRef,
    options?: CallOptions & { fix?: boolean; select?: string[] },
  ): Promise<LintResult> {
    return this.#span(
      "floe_dbt.lint",
      {
        [ATTR.command]: "lint",
        ...projectAttrs(project),
        ...selectionAttrs(options),
      },
      options,
      (o) => this.inner.lintProject(project, { ...options, ...o }),
      (span, r) => {
        span.setAttributes({
          [ATTR.success]: r.passed,
          [ATTR.lintErrors]: r.errors,
          [ATTR.lintWarnings]: r.warnings,
        });
        if (!r.passed) span.setStatus({ code: SpanStatusCode.ERROR });
      },
    );
  }
}

/**
 * Wrap a runtime so every operation opens a span (child of the active
 * context) with the runtime, command, project, target, selection and result
 * attributes, and per-node `dbt.node` span events.
 */
export function tracedRuntime(rt: DbtRuntime): DbtRuntime {
  return new TracedRuntime(rt);
}
