/**
 * The repo's public-API stand-in for dbt Cloud (tests/cloud/fake_server.ts),
 * started for the Python tests: prints its URL, serves until stdin closes.
 * Args: ACCOUNT TOKEN. Jobs: 101 run, 102 compile, 103 test.
 *
 * @module
 */
import {
  realBuildArtifacts,
  staticExecutor,
} from "../../../tests/cloud/executors.ts";
import { FakeDbtCloud } from "../../../tests/cloud/fake_server.ts";

const [account, token] = Deno.args;
const artifacts = await realBuildArtifacts();
const server = new FakeDbtCloud(
  Number(account),
  token!,
  staticExecutor(artifacts),
);
server.jobs.set(101, ["dbt run"]);
server.jobs.set(102, ["dbt compile"]);
server.jobs.set(103, ["dbt test"]);
console.log(server.url);
for await (const _ of Deno.stdin.readable) { /* until the test closes stdin */ }
await server[Symbol.asyncDispose]();
