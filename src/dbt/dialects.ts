/**
 * dbt adapter type (profiles.yml `type:`) to SQLFluff dialect: one table.
 *
 * @module
 */
import { configError } from "../contract/errors.ts";

/** Adapter type -> SQLFluff dialect. */
export const SQLFLUFF_DIALECTS: Readonly<Record<string, string>> = {
  duckdb: "duckdb",
  postgres: "postgres",
  snowflake: "snowflake",
  bigquery: "bigquery",
  redshift: "redshift",
  databricks: "databricks",
  spark: "sparksql",
  glue: "sparksql",
  trino: "trino",
  athena: "athena",
  clickhouse: "clickhouse",
  sqlserver: "tsql",
  synapse: "tsql",
  fabric: "tsql",
  oracle: "oracle",
  mysql: "mysql",
  mariadb: "mariadb",
  sqlite: "sqlite",
  exasol: "exasol",
  vertica: "vertica",
  teradata: "teradata",
  materialize: "materialize",
  greenplum: "greenplum",
  hive: "hive",
  impala: "impala",
  db2: "db2",
  doris: "doris",
  starrocks: "starrocks",
};

/** The SQLFluff dialect for an adapter type; unknown types are E003. */
export function sqlfluffDialect(adapterType: string): string {
  const dialect = SQLFLUFF_DIALECTS[adapterType.toLowerCase()];
  if (dialect) return dialect;
  throw configError(
    `No SQLFluff dialect is known for adapter type '${adapterType}'`,
    `known types: ${
      Object.keys(SQLFLUFF_DIALECTS).join(", ")
    }; set 'dialect' in the project's .sqlfluff to lint anyway`,
    { adapter_type: adapterType },
  );
}
