/**
 * HTTP transport for OpenLineage events: POST one JSON event to the URL from
 * `plugins.lineage.url` (e.g. Marquez's `/api/v1/lineage`). It never throws:
 * a failing endpoint must not fail the dbt job, so failures come back as a
 * message for the caller to log and count.
 *
 * The bearer key goes only to the configured URL: it must be https (http
 * only to a loopback host), and redirects are not followed, so no
 * Authorization header ever reaches another host.
 *
 * @module
 */
import type { LineageConfig } from "../config/config.ts";
import { resolveSecret } from "../config/secrets.ts";
import { isSecureUrl } from "../os/url.ts";
import type { RunEvent } from "./events.ts";

/** Send one event; resolves to null when accepted, else why it was not. */
export async function sendEvent(
  config: LineageConfig,
  event: RunEvent,
): Promise<string | null> {
  if (!isSecureUrl(config.url)) {
    return `refused to send to '${config.url}': the lineage URL must use https (http only to a loopback host)`;
  }
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
      redirect: "manual",
      signal: AbortSignal.timeout(config.timeout_seconds * 1000),
    });
    await res.body?.cancel();
    if (res.status >= 300 && res.status < 400) {
      const to = res.headers.get("location") ?? "(no location)";
      return `HTTP ${res.status} from the lineage endpoint redirecting to '${to}': not followed (set plugins.lineage.url to the final URL)`;
    }
    return res.ok ? null : `HTTP ${res.status} from the lineage endpoint`;
  } catch (e) {
    // The message names the URL at most, never the api key.
    return e instanceof Error ? e.message : String(e);
  }
}
