/**
 * HTTP transport for OpenLineage events: POST one JSON event to the URL from
 * `plugins.lineage.url` (e.g. Marquez's `/api/v1/lineage`). It never throws:
 * a failing endpoint must not fail the dbt job, so failures come back as a
 * message for the caller to log and count.
 *
 * @module
 */
import type { LineageConfig } from "../config.ts";
import { resolveSecret } from "../secrets.ts";
import type { RunEvent } from "./events.ts";

/** Send one event; resolves to null when accepted, else why it was not. */
export async function sendEvent(
  config: LineageConfig,
  event: RunEvent,
): Promise<string | null> {
  try {
    const headers: Record<string, string> = {
      "content-type": "application/json",
    };
    if (config.api_key_ref) {
      headers.authorization = `Bearer ${await resolveSecret(
        config.api_key_ref,
      )}`;
    }
    const res = await fetch(config.url, {
      method: "POST",
      headers,
      body: JSON.stringify(event),
      signal: AbortSignal.timeout(config.timeout_seconds * 1000),
    });
    await res.body?.cancel();
    return res.ok ? null : `HTTP ${res.status} from the lineage endpoint`;
  } catch (e) {
    // The message names the URL at most, never the api key.
    return e instanceof Error ? e.message : String(e);
  }
}
