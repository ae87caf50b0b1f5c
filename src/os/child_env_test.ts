import assert from "node:assert/strict";
import { childEnv, isSecretEnvName, protectEnvName } from "./child_env.ts";

const BASE = {
  PATH: "/usr/bin",
  HOME: "/home/u",
  DBT_PROFILES_DIR: "/p",
  DBT_CLOUD_ACCOUNT_ID: "42",
  SNOWFLAKE_PASSWORD: "profile-reads-this",
  FLOE_SECRET_DBT_CLOUD_TOKEN: "s1",
  floe_secret_lower: "s2",
  FLOE_SECRETS_DIR: "/var/run/secrets/floe",
  FLOE_DBT_TOKEN: "daemon-token",
  DBT_CLOUD_API_TOKEN: "dbtc_x",
  DBT_CLOUD_SERVICE_TOKEN_PROD: "dbtc_y",
};

Deno.test("childEnv drops the agent's secrets and keeps what dbt and profiles need", () => {
  assert.deepEqual(childEnv({}, BASE), {
    PATH: "/usr/bin",
    HOME: "/home/u",
    DBT_PROFILES_DIR: "/p",
    DBT_CLOUD_ACCOUNT_ID: "42",
    SNOWFLAKE_PASSWORD: "profile-reads-this",
  });
});

Deno.test("childEnv puts overrides on top but never lets a secret name back in", () => {
  const env = childEnv(
    { DBT_SEND_ANONYMOUS_USAGE_STATS: "false", FLOE_SECRET_X: "y", PATH: "/b" },
    BASE,
  );
  assert.equal(env.DBT_SEND_ANONYMOUS_USAGE_STATS, "false");
  assert.equal(env.PATH, "/b");
  assert.equal(env.FLOE_SECRET_X, undefined);
});

Deno.test("childEnv defaults to the agent's own environment, scrubbed", () => {
  Deno.env.set("FLOE_SECRET_CHILD_ENV_TEST", "hidden");
  Deno.env.set("FLOE_CHILD_ENV_VISIBLE", "shown");
  try {
    const env = childEnv();
    assert.equal(env.FLOE_SECRET_CHILD_ENV_TEST, undefined);
    assert.equal(env.FLOE_CHILD_ENV_VISIBLE, "shown");
    assert.equal(env.PATH, Deno.env.get("PATH"));
  } finally {
    Deno.env.delete("FLOE_SECRET_CHILD_ENV_TEST");
    Deno.env.delete("FLOE_CHILD_ENV_VISIBLE");
  }
});

Deno.test("protectEnvName keeps an exact variable out of every child", () => {
  const name = "MY_DAEMON_TOKEN_SOURCE_TEST";
  assert.equal(isSecretEnvName(name), false);
  protectEnvName(name);
  assert.equal(isSecretEnvName(name), true);
  assert.equal(childEnv({}, { [name]: "t", KEEP: "1" })[name], undefined);
  assert.equal(isSecretEnvName("MY_DAEMON_TOKEN_SOURCE_TEST_2"), false);
});
