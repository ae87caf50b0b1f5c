/**
 * Help texts of the CLI.
 *
 * @module
 */

const PROJECT_FLAGS = `
Project flags (named like dbt's):
  --project-dir DIR     dbt project directory (env DBT_PROJECT_DIR; default: .)
  --profiles-dir DIR    directory with profiles.yml (env DBT_PROFILES_DIR;
                        default: the project dir if it has one, else ~/.dbt;
                        a daemon job never falls back to ~/.dbt: see serve)
  -t, --target NAME     profile target (env DBT_TARGET)
  --runtime NAME        local | fusion | cloud (default: plugins.dbt_runtime;
                        with a manifest.yaml only when it allows overriding)
  --config FILE         platform manifest.yaml (default: ./manifest.yaml if present)
  --json                print exactly one JSON object on stdout (the result)
  --log-format FORMAT   progress on stderr as text (default) or json lines
  -q, --quiet           no progress output
  --no-cache            bypass the artifact cache (also FLOE_DISABLE_CACHE=true)
  -h, --help            this help`;

const SELECT_FLAGS = `
Selection:
  -s, --select SEL      dbt selector(s); repeat or quote several: -s "a b+"
  --exclude SEL         dbt selector(s) to leave out
  --selector NAME       a selector defined in the project's selectors.yml
  --indirect-selection MODE
                        tests next to selected nodes: eager (default),
                        cautious, buildable or empty`;

const DBT_FLAGS = `
dbt options:
  --vars YAML           variables for var(), as YAML or JSON: --vars '{"day": "2026-11-01"}'
                        (a mapping of data, at most 32 levels deep and 64 KiB as JSON;
                        dbt gets it as one JSON argument). A key or text holding a
                        Jinja delimiter ({{ {% {#) is refused (FLOE-DBT-E010): dbt
                        would render it as code
  --allow-jinja-vars    let --vars hold Jinja, rendered by dbt (not on submit: there
                        the daemon's operator decides, with serve --allow-jinja-vars)
  --threads N           dbt threads (cloud: the run's threads_override)
  -x, --fail-fast       stop at the first failure (not on the fusion runtime)
  --changed             only what changed since the kept state, and downstream
                        (state:modified+ within --select), deferring the rest
  --skip-unchanged      run and build: reuse every node whose code, macros,
                        config, vars and upstream data are the same as at its
                        last success on the target (local and fusion)
  --skip-stale-sources  run and build: leave out what is downstream of a source
                        whose dbt freshness is error (reported, not failed)
  --state DIR           compare with (and defer to) this state, as dbt's --state
  --state-from cloud    take the state from the dbt Cloud job's newest
                        successful run (local and fusion runtimes)
  --timeout-seconds N   deadline of the dbt call (default: the runtime's
                        timeout_seconds): past it the run is stopped (cloud:
                        cancelled) and fails with FLOE-DBT-E007`;

/** Top-level help. */
export const MAIN_HELP =
  `floe-dbt: run dbt projects through pluggable runtimes (local, fusion, cloud)

Usage: floe-dbt COMMAND [flags]

Commands:
  compile        compile the project; prints the manifest path
  run            dbt run  (--select, --exclude, --full-refresh)
  test           dbt test (--select, --exclude)
  seed           dbt seed (--select, --full-refresh)
  build          dbt build: seeds, models, tests in DAG order
  snapshot       dbt snapshot: record changes of the snapshot sources
  docs generate  dbt docs generate: the result's catalog_path is this run's catalog
  retry          dbt retry: re-run what failed or was skipped in the last run
  source freshness
                 dbt source freshness: per-source status in metadata.sources
  lint           lint the project's SQL (--fix to apply fixes)
  manifest       print the project's manifest.json
  run-results    print the project's latest run_results.json
  runtimes       list the runtimes and whether each is usable here
  config validate [FILE]
                 check a manifest.yaml (versions, secret references)
  config schema  print the JSON Schema of manifest.yaml
  serve          run the daemon (HTTP API + job runner)
  submit CMD     submit a job to the daemon (--follow to stream progress)
  jobs, job ID, cancel ID
                 list, show, cancel the daemon's jobs
  cache ls|gc|clear
                 list, prune expired, or remove the cloud artifact cache
  state clear    forget the kept state (--changed, --skip-unchanged) of
                 --target T, or of every target

dbt's own flags work on the dbt commands: --select/-s, --exclude, --selector,
--indirect-selection, --vars, --threads, --fail-fast/-x, --full-refresh.
Exit codes: 0 success, 1 dbt reported failures, 2 usage or configuration error.
Run 'floe-dbt COMMAND --help' for a command's flags.`;

const COMMAND_HELP: Record<string, string> = {
  compile:
    `Usage: floe-dbt compile [flags]\n\nCompile the project (Jinja to SQL) and print the path of manifest.json.\n${SELECT_FLAGS}\n${DBT_FLAGS}\n${PROJECT_FLAGS}`,
  run:
    `Usage: floe-dbt run [flags]\n\nBuild the selected models.\n${SELECT_FLAGS}\n  --full-refresh        rebuild incremental models from scratch\n${DBT_FLAGS}\n${PROJECT_FLAGS}`,
  test:
    `Usage: floe-dbt test [flags]\n\nRun the selected data tests.\n${SELECT_FLAGS}\n${DBT_FLAGS}\n${PROJECT_FLAGS}`,
  seed:
    `Usage: floe-dbt seed [flags]\n\nLoad the project's seed CSV files.\n${SELECT_FLAGS}\n  --full-refresh        drop and recreate seed tables\n${DBT_FLAGS}\n${PROJECT_FLAGS}`,
  build:
    `Usage: floe-dbt build [flags]\n\nSeed, run and test the selected nodes in DAG order.\n${SELECT_FLAGS}\n  --full-refresh        rebuild incremental models and seeds\n${DBT_FLAGS}\n${PROJECT_FLAGS}`,
  snapshot:
    `Usage: floe-dbt snapshot [flags]\n\nRun the project's snapshots: each records what changed in its source since the\nlast snapshot (dbt snapshot).\n${SELECT_FLAGS}\n${DBT_FLAGS}\n${PROJECT_FLAGS}`,
  "docs-generate":
    `Usage: floe-dbt docs generate [flags]\n\nWrite the project's catalog (dbt docs generate; on the fusion runtime\n'dbt compile --write-catalog') and print the path of this run's catalog.json\n(the result's catalog_path), which lists each relation's columns.\n${SELECT_FLAGS}\n${DBT_FLAGS}\n${PROJECT_FLAGS}`,
  retry:
    `Usage: floe-dbt retry [flags]\n\nRe-run what failed or was skipped in the project's last run, with that run's\ncommand and selection (dbt retry). local: the project's target/; fusion: the\nlast Fusion call under .floe/fusion; cloud: the newest run of the job_ids,\nretried by dbt Cloud when it failed (nothing to retry when it succeeded); on\ncloud no dbt option is taken (--timeout-seconds is: the retried run's deadline).\n${DBT_FLAGS}\n${PROJECT_FLAGS}`,
  "source-freshness":
    `Usage: floe-dbt source freshness [flags]\n\nCheck the freshness of the project's sources (those with loaded_at_field and\na freshness config). The result lists each source's status (pass, warn, error,\nruntime error) in metadata.sources; an error fails it, a warning does not.\n${SELECT_FLAGS}\n${DBT_FLAGS}\n${PROJECT_FLAGS}`,
  lint:
    `Usage: floe-dbt lint [--fix] [flags]\n\nLint the project's model SQL (SQLFluff for local; the dialect comes from the\nprofile target's adapter type). Exit 1 when there are lint errors.\n  --fix                 apply the fixes the linter can make, report what remains\n  -s, --select PATH     lint only these files or directories (relative to the project)\n  --timeout-seconds N   deadline of the linter run: past it it is stopped (FLOE-DBT-E007)\n${PROJECT_FLAGS}`,
  manifest:
    `Usage: floe-dbt manifest [flags]\n\nPrint the project's manifest.json (filesystem, or the dbt Cloud artifact).\n${PROJECT_FLAGS}`,
  "run-results":
    `Usage: floe-dbt run-results [flags]\n\nPrint the project's latest run_results.json.\n${PROJECT_FLAGS}`,
  runtimes:
    `Usage: floe-dbt runtimes [--json] [--config FILE]\n\nList the registered runtimes, whether each can run here and why, their\nparallel-safety and metadata.`,
  cache:
    `Usage: floe-dbt cache ls|gc|clear [--json] [--project-dir DIR] [--config FILE]\n\nThe cloud runtime's artifact cache (.floe/dbt-cloud-cache/ under the project,\nor dbt_runtime_config.cloud.cache_dir): ls lists entries with age and size, gc\nremoves entries older than cache_ttl_seconds (or without metadata), clear\nremoves every entry.`,
  state:
    `Usage: floe-dbt state clear [--target T] [--json] [--project-dir DIR]\n\nForget the state floe-dbt keeps for the project in .floe/state/<target>/: the\nmanifest --changed compares with and the input keys --skip-unchanged reuses\nby. Without --target, every target's. The next build builds everything.`,
  serve:
    `Usage: floe-dbt serve [flags]\n\nRun the daemon: an HTTP API with a job runner (GET /healthz, /readyz, /openapi.json,\n/v1/runtimes; POST /v1/jobs ...). SIGTERM drains running jobs, then exits 0.\n  --host ADDR           address to listen on (default 127.0.0.1)\n  --port N              port (env FLOE_DBT_PORT; default 8686)\n  --project-root DIR    jobs may only use projects under DIR (repeatable)\n  --token-file FILE     bearer token clients must send (16+ characters); without it\n                        and --token-ref, a random token is kept in <state-dir>/token (0600)\n  --token-ref NAME      the token as a secret reference ($FLOE_SECRETS_DIR/NAME or FLOE_SECRET_<NAME>)\n  --allow-origin ORIGIN a web origin browsers may call from, with CORS (repeatable; default none)\n  --allow-host NAME     another Host name a loopback daemon answers to (repeatable)\n  --profiles-dir DIR    profiles.yml for jobs whose project has none and that name no\n                        profiles_dir (default: none: such a job is refused with\n                        FLOE-DBT-E003; a job never reads ~/.dbt unless DIR is ~/.dbt)\n  --allow-jinja-vars    let job vars hold Jinja, which dbt renders: job authors can run\n                        any SQL (default: a Jinja delimiter in vars is refused, 400 E010)\n  --state-dir DIR       job journal (env FLOE_STATE_DIR; default ~/.local/state/floe-dbt)\n  --grace-seconds N     how long SIGTERM waits for running jobs (default 30)\n  --retention-hours N   keep finished jobs this long (default 168)\n  --artifact-retention-hours N\n                        keep finished jobs' artifacts this long (default: --retention-hours);\n                        after that GET /v1/jobs/{id}/artifacts/{name} answers 410\n  --max-queued N        jobs that may wait to run (default 1000); beyond it POST /v1/jobs\n                        answers 429 with Retry-After\n  --max-streams N       open event streams in all (default 1024; at most 64 per job);\n                        beyond it GET /v1/jobs/{id}/events answers 503 (429 per job)\n  --max-finished N      finished jobs kept at most (default 10000): the oldest are forgotten\n                        first, with their artifacts (besides --retention-hours)\n  --request-timeout-seconds N\n                        a request's head and body must arrive within N seconds (default 30);\n                        a half-sent or idle connection is closed after that\n  --max-connections N   open connections at most (default: half the open-file limit, 16..4096);\n                        one more gets 503 (E013) and is closed\n  --config FILE         platform manifest.yaml (default: ./manifest.yaml if present)\n  --log-format FORMAT   text (default) or json lines on stderr`,
  submit:
    `Usage: floe-dbt submit COMMAND [flags]\n\nSubmit a job to the daemon and print its id (or follow it). COMMAND is one of\ncompile, run, test, seed, build, snapshot, docs generate, retry,\nsource freshness, lint.\n  -f, --follow          stream the job's progress until it ends; exit 1 unless it succeeded\n  --url URL             the daemon (env FLOE_DBT_URL; default http://127.0.0.1:8686)\n  --token-file FILE     bearer token (else env FLOE_DBT_TOKEN, else, for a daemon on this\n                        machine, <state-dir>/token: --state-dir / FLOE_STATE_DIR)\n  --idempotency-key K   a retried submit with the same key returns the first job\n${SELECT_FLAGS}\n  --full-refresh        rebuild incremental models\n${DBT_FLAGS}\n${PROJECT_FLAGS}`,
  jobs:
    `Usage: floe-dbt jobs [--json] [--url URL] [--token-file FILE]\n\nList the daemon's jobs, newest first, one line each: id, status, runtime, command,\nproject, created time (every page of GET /v1/jobs; --json prints one array).`,
  job:
    `Usage: floe-dbt job ID [--follow] [--json] [--url URL] [--token-file FILE]\n\nShow one job of the daemon (or follow its progress until it ends).`,
  cancel:
    `Usage: floe-dbt cancel ID [--json] [--url URL] [--token-file FILE]\n\nCancel a queued or running job (stops the dbt process tree or the remote run).`,
  config:
    `Usage: floe-dbt config validate [FILE] [--json]\n       floe-dbt config schema\n\nvalidate checks a platform manifest.yaml (default: --config, else ./manifest.yaml):\nerrors name the file, line, column and key; then it compares\nlocal.dbt_version and local.python_version with what is installed, resolves\nevery secret reference (names only, never values) and prints the warnings\n(deprecated keys, unmet version ranges). Exit 2 when anything is wrong.\n\nschema prints the JSON Schema of manifest.yaml (also docs/manifest.schema.json),\nfor editors: # yaml-language-server: $schema=PATH/manifest.schema.json`,
};

/** Help for one command (or the main help). */
export function helpFor(command: string): string {
  return COMMAND_HELP[command] ?? MAIN_HELP;
}
