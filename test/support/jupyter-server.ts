// The project's Jupyter server (scripts/start.mjs), as the end-to-end tests start it.

import path from "node:path";
import { ROOT } from "../../scripts/jupyter-env.mjs";
import { freePort, type Proc, startProcess, waitUntil } from "./processes";

/** A server started by {@link startProjectServer}. */
export interface ProjectServer {
  proc: Proc;
  /** `http://127.0.0.1:<port>/` */
  url: string;
  /** Whether `probe` answered 200 within 60 s (false also when the process exited first). */
  up: boolean;
}

/**
 * Starts `scripts/start.mjs --no-browser` on a free loopback port (no port retries) with
 * JUPYTER_TOKEN = `token`, `args` appended (Jupyter options: allowed origins, another
 * `--notebook-dir`) and `env` over the test's environment, then polls `probe` (a path under the
 * server, default `api/status`) with the token every 250 ms until it answers 200, the process exits,
 * or 60 s pass.
 */
export async function startProjectServer(opts: {
  token: string;
  args?: string[];
  env?: NodeJS.ProcessEnv;
  probe?: string;
}): Promise<ProjectServer> {
  const port = await freePort();
  const proc = startProcess(
    "jupyter",
    process.execPath,
    [
      path.join(ROOT, "scripts", "start.mjs"),
      "--no-browser",
      "--port",
      String(port),
      "--ip=127.0.0.1",
      "--port-retries=0",
      ...(opts.args ?? []),
    ],
    { ...process.env, ...opts.env, JUPYTER_TOKEN: opts.token },
  );
  const url = `http://127.0.0.1:${port}/`;
  const up = await waitUntil(
    async () =>
      proc.hasExited() ||
      (await fetch(`${url}${opts.probe ?? "api/status"}`, {
        headers: { Authorization: `token ${opts.token}` },
        signal: AbortSignal.timeout(2_000),
      }).then(
        (r) => r.ok,
        () => false,
      )),
    60_000,
    250,
  );
  return { proc, url, up: up && !proc.hasExited() };
}
