/**
 * Lineage: OpenLineage run events for every dbt command, over HTTP to
 * `plugins.lineage.url`; off when not configured.
 *
 * @module
 */
export {
  type Dataset,
  datasetName,
  datasetsOf,
  PRODUCER,
  type RunEvent,
  runEvent,
  SCHEMA_URL,
} from "./events.ts";
export { lineageRuntime } from "../wrappers/lineage.ts";
export { sendEvent } from "./transport.ts";
