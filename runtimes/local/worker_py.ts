/**
 * The Python worker that drives dbt-core through dbtRunner. It ships inside the
 * agent as text and is written to the cache dir before start (a compiled
 * agent's embedded files are not visible to a child process).
 *
 * Protocol: one JSON object a line. Requests on stdin:
 * `{id, op: "invoke", command, common: [...], args: [...], cwd, env, fingerprint, facts}`
 * (optional: `capture` returns a show's preview and a list's lines,
 * `write_manifest`, a file path, only parses and writes the manifest as parsed
 * there, or leaves the file as it is while the project is unchanged)
 * or `{id, op: "ping"}`; dbt gets `[...command words, ...args, ...common]`, the
 * agent's own flags after the caller's (dbt keeps an option's last value).
 * Replies on the worker's original stdout (dbt's own
 * console output is moved to stderr): `{type: "ready", ...}` once, then
 * `{type: "event", id, ...}` while a call runs and `{type: "result", id, ...}`.
 *
 * @module
 */

import { FACTS_PY } from "./facts_py.ts";

/** Bumped when the protocol changes; part of the cached file's name. */
export const WORKER_PROTOCOL = 1;

/** The worker's source code. */
export const WORKER_PY = String.raw`
import json, os, sys, time, traceback
${FACTS_PY}

# dbt starts helper processes with multiprocessing's spawn method, which
# re-imports this file as __mp_main__: only the real main may run the worker.
def main():
    global _proto, send, dbtRunner, msg_to_dict, _version

    # The protocol owns the original stdout; everything dbt prints goes to stderr.
    _proto = os.fdopen(os.dup(1), "w", buffering=1, encoding="utf-8")
    os.dup2(2, 1)
    sys.stdout = sys.stderr

    def _watch_parent(ppid):
        # The agent holds the project lock: if it dies, stop dbt at once, with
        # every process of this group, so no orphan keeps writing.
        import signal, threading
        def loop():
            while True:
                time.sleep(0.5)
                if os.getppid() != ppid:
                    try:
                        os.killpg(0, signal.SIGKILL)
                    finally:
                        os._exit(137)
        threading.Thread(target=loop, daemon=True).start()

    _watch_parent(os.getppid())

    def send(obj):
        _proto.write(json.dumps(obj, default=str) + "\n")
        _proto.flush()

    t0 = time.time()
    from importlib.metadata import version as _version
    from dbt.cli.main import dbtRunner
    from dbt_common.events.functions import msg_to_dict

    # Only what the agent translates: per-node start/finish and the node count.
    # Every forwarded event costs a protobuf-to-dict conversion and a JSON line.
    FORWARD = {"NodeStart", "NodeFinished", "ConcurrencyLine"}

    state = {"manifest": None, "fingerprint": None, "invocations": 0}

    def make_callback(rid, box):
        def cb(ev):
            try:
                name = ev.info.name
                level = ev.info.level
                if name == "ShowNode" and box is not None:
                    box["preview"] = msg_to_dict(ev).get("data", {}).get("preview")
                    return
                if name not in FORWARD and level not in ("error", "warn"):
                    return
                d = msg_to_dict(ev)
                send({"type": "event", "id": rid, "name": name, "level": level,
                      "msg": ev.info.msg, "thread": ev.info.thread,
                      "data": d.get("data", {})})
            except Exception as e:  # never let progress break a run
                sys.stderr.write("floe-dbt worker: event error %r\n" % (e,))
        return cb

    def exc_info(exc):
        if exc is None:
            return None
        return {"type": type(exc).__name__, "module": type(exc).__module__,
                "message": str(exc)}

    def fresh_compile_state(manifest):
        # A run compiles into the manifest's nodes: a reused one would keep
        # "ephemeral CTEs already injected" while the next compile renders
        # the code afresh, and a model on an ephemeral would lose its CTE.
        from dbt.contracts.graph.nodes import CompiledNode
        for node in manifest.nodes.values():
            if isinstance(node, CompiledNode):
                node.extra_ctes_injected = False
                node.extra_ctes = []
                node._pre_injected_sql = None
                node.compiled = False
                node.compiled_code = None

    def invoke(req):
        rid = req["id"]
        os.environ.clear()
        os.environ.update(req.get("env") or {})
        os.chdir(req["cwd"])
        box = {} if req.get("capture") else None
        cb = make_callback(rid, box)
        common = req.get("common") or []
        fp = req.get("fingerprint")
        reused = False
        parse_seconds = 0.0
        manifest = None
        wm = req.get("write_manifest")
        if wm:
            # Parse only, into a file of its own: the manifest as parsed,
            # before any command compiled into it (a run adds to the cached
            # one). Kept while the project is the same.
            if fp is not None and fp == state.get("parsed") and os.path.isfile(wm):
                return {"type": "result", "id": rid, "success": True, "exception": None,
                        "reused_manifest": True, "parse_seconds": 0.0}
            p0 = time.time()
            res = dbtRunner(callbacks=[cb]).invoke(["parse"] + common)
            state["invocations"] += 1
            if not res.success:
                return {"type": "result", "id": rid, "success": False,
                        "exception": exc_info(res.exception) or {"type": "ParseError", "module": "dbt", "message": "dbt parse failed"},
                        "reused_manifest": False, "parse_seconds": time.time() - p0}
            # A file of our own, renamed over the name: never written through
            # a link planted there.
            tmp = "%s.%d.tmp" % (wm, os.getpid())
            try:
                os.unlink(tmp)
            except FileNotFoundError:
                pass
            os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o600))
            res.result.write(tmp)
            os.replace(tmp, wm)
            state["manifest"] = res.result
            state["fingerprint"] = fp
            state["parsed"] = fp
            return {"type": "result", "id": rid, "success": True, "exception": None,
                    "reused_manifest": False, "parse_seconds": time.time() - p0}
        if fp is not None and fp == state["fingerprint"] and state["manifest"] is not None:
            manifest = state["manifest"]
            fresh_compile_state(manifest)
            reused = True
        elif fp is not None:
            state["manifest"] = None
            state["fingerprint"] = None
            p0 = time.time()
            res = dbtRunner(callbacks=[cb]).invoke(["parse"] + common)
            state["invocations"] += 1
            parse_seconds = time.time() - p0
            if not res.success:
                return {"type": "result", "id": rid, "success": False,
                        "exception": exc_info(res.exception) or {"type": "ParseError", "module": "dbt", "message": "dbt parse failed"},
                        "reused_manifest": False, "parse_seconds": parse_seconds}
            manifest = res.result
            state["manifest"] = manifest
            state["fingerprint"] = fp
        # The agent's own flags (common) come last: dbt's click options keep
        # the last value, so nothing before them can redirect a call.
        # A two-word command ("docs generate") arrives space-separated.
        args = req["command"].split() + (req.get("args") or []) + common
        res = dbtRunner(manifest=manifest, callbacks=[cb]).invoke(args)
        state["invocations"] += 1
        facts = None
        if req.get("facts") and manifest is not None and res.exception is None and res.result is not None:
            try:
                facts = node_facts(manifest, res.result, req["facts"])
            except Exception as e:  # facts never fail a run
                _facts_debug("none: %s: %s" % (type(e).__name__, e))
        if res.exception is not None or "--defer" in (req.get("args") or []):
            # A failed call may leave a half-updated manifest, and --defer
            # merges the state's relations into it: parse afresh next time.
            state["manifest"] = None
            state["fingerprint"] = None
        reply = {"type": "result", "id": rid, "success": bool(res.success),
                 "exception": exc_info(res.exception), "reused_manifest": reused,
                 "parse_seconds": parse_seconds, "node_facts": facts}
        if box is not None:
            # What the caller asked to see: a show's preview, a list's lines.
            reply["preview"] = box.get("preview")
            if isinstance(res.result, list):
                reply["lines"] = [x for x in res.result if isinstance(x, str)]
        return reply

    def release_connections():
        # Between calls the worker must hold no database handle: a DuckDB file
        # stays locked while a connection is open (other processes, SQLFluff's
        # dbt templater and the next agent need it).
        try:
            from dbt.adapters.factory import cleanup_connections
            cleanup_connections()
        except Exception:
            pass
        try:
            from dbt.adapters.duckdb.connections import DuckDBConnectionManager as M
            with M._LOCK:
                if M._ENV is not None:
                    try:
                        M._ENV.close()
                    finally:
                        M._ENV = None
        except ImportError:
            pass

    def versions():
        out = {"dbt_version": _version("dbt-core"),
               "python_version": sys.version.split()[0]}
        for pkg in ("dbt-duckdb", "dbt-postgres", "sqlfluff"):
            try:
                out[pkg] = _version(pkg)
            except Exception:
                pass
        return out

    send(dict({"type": "ready", "pid": os.getpid(),
               "import_seconds": time.time() - t0}, **versions()))

    for line in sys.stdin:
        line = line.strip()
        if not line:
            continue
        try:
            req = json.loads(line)
        except Exception as e:
            send({"type": "result", "id": None, "success": False,
                  "exception": {"type": "ProtocolError", "module": "floe", "message": str(e)}})
            continue
        op = req.get("op")
        try:
            if op == "ping":
                send({"type": "result", "id": req.get("id"), "success": True,
                      "exception": None, "invocations": state["invocations"]})
            elif op == "invoke":
                try:
                    reply = invoke(req)
                finally:
                    release_connections()
                send(reply)
            else:
                send({"type": "result", "id": req.get("id"), "success": False,
                      "exception": {"type": "ProtocolError", "module": "floe", "message": "unknown op %r" % (op,)}})
        except BaseException as e:
            state["manifest"] = None
            state["fingerprint"] = None
            send({"type": "result", "id": req.get("id"), "success": False,
                  "exception": {"type": type(e).__name__, "module": type(e).__module__,
                                "message": str(e)},
                  "trace": traceback.format_exc(limit=8)})

if __name__ == "__main__":
    main()
`;
