/**
 * The Discovery API (GraphQL), used only for what it offers: the applied
 * state of an environment's models, with cursor pagination. (It has no
 * manifest: manifests come from the Admin API's artifacts.)
 *
 * @module
 */
import { ERROR_CODES, FloeDbtError } from "../../src/contract/errors.ts";
import type { Http } from "./http.ts";
import {
  type AppliedModel,
  AppliedModelsResponseSchema,
  describeIssue,
} from "./schemas.ts";

/**
 * The Discovery endpoint for an access URL: `ACCOUNT_PREFIX.REGION.dbt.com`
 * gives `ACCOUNT_PREFIX.metadata.REGION.dbt.com/graphql`; the legacy region
 * hosts get `metadata.<host>`. Undefined when it cannot be derived.
 */
export function discoveryUrlFor(accessUrl: string): string | undefined {
  const u = new URL(accessUrl);
  const host = u.hostname;
  const m = /^([^.]+)\.([a-z]+\d+)\.dbt\.com$/.exec(host);
  if (m) return `${u.protocol}//${m[1]}.metadata.${m[2]}.dbt.com/graphql`;
  if (["cloud.getdbt.com", "emea.dbt.com", "au.dbt.com"].includes(host)) {
    return `${u.protocol}//metadata.${host}/graphql`;
  }
  return undefined;
}

const QUERY =
  `query AppliedModels($environmentId: BigInt!, $first: Int!, $after: String) {
  environment(id: $environmentId) {
    applied {
      models(first: $first, after: $after) {
        pageInfo { endCursor hasNextPage }
        edges { node { uniqueId name executionInfo { lastRunStatus lastRunError executeCompletedAt executionTime } } }
      }
    }
  }
}`;

/** Every applied model of an environment, following the cursor. */
export async function appliedModels(
  http: Http,
  url: string,
  environmentId: string,
  options: { pageSize?: number; signal?: AbortSignal | undefined } = {},
): Promise<AppliedModel[]> {
  const out: AppliedModel[] = [];
  let after: string | null = null;
  for (let page = 0; page < 10_000; page++) {
    const a = await http.send({
      method: "POST",
      url,
      body: {
        query: QUERY,
        variables: {
          environmentId: Number(environmentId),
          first: options.pageSize ?? 500,
          after,
        },
      },
      signal: options.signal,
    });
    let json: unknown;
    try {
      json = JSON.parse(a.text);
    } catch {
      throw new FloeDbtError(
        ERROR_CODES.remoteApi,
        "dbt Discovery API answered with invalid JSON",
        { hint: "check discovery_url" },
      );
    }
    const parsed = AppliedModelsResponseSchema.safeParse(json);
    if (!parsed.success) {
      throw new FloeDbtError(
        ERROR_CODES.remoteApi,
        `dbt Discovery API answered in an unexpected shape: ${
          describeIssue(parsed.error)
        }`,
        { hint: "check discovery_url and environment_id" },
      );
    }
    const body = parsed.data;
    if (body.errors?.length || !body.data?.environment) {
      throw new FloeDbtError(
        ERROR_CODES.remoteApi,
        `dbt Discovery API error for environment ${environmentId}: ${
          body.errors?.map((e) => e.message).join("; ") ??
            "environment not found"
        }`,
        {
          hint:
            "check environment_id and that the token may read metadata (Metadata Only or Read-Only permission)",
        },
      );
    }
    const models = body.data.environment.applied.models;
    out.push(...models.edges.map((e) => e.node));
    if (!models.pageInfo.hasNextPage || !models.pageInfo.endCursor) break;
    after = models.pageInfo.endCursor;
  }
  return out;
}
