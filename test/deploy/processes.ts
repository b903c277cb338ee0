import { spawn, type ChildProcess } from "node:child_process";
import { readFileSync, readdirSync } from "node:fs";
import { recordLogLine } from "../support/traffic.ts";

/**
 * The standalone server as a deployment starts it: a process (npm, npx, the bin, bun, deno) whose
 * whole tree is watched, signalled at its top as a supervisor would, and checked to be gone.
 */

export interface ServerTree {
  child: ChildProcess;
  origin: string;
  output: string[];
  /** The demo user token from the banner, when the server printed one. */
  demoToken: string | undefined;
}

/** The environment of this run less npm's own variables, so that a child sees only what it is given. */
export function cleanEnv(extra: Record<string, string>): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [key, value] of Object.entries(process.env)) if (value !== undefined && !/^npm_/i.test(key)) env[key] = value;
  return { ...env, PORT: "0", ...extra };
}

const started = new Set<ChildProcess>();

export async function startTree(command: string, args: string[], options: { cwd: string; env: Record<string, string> }): Promise<ServerTree> {
  // A group of its own, so that whatever is left can be cleaned up after a failed test.
  const child = spawn(command, args, { cwd: options.cwd, env: options.env, stdio: ["ignore", "pipe", "pipe"], detached: true });
  started.add(child);
  const output: string[] = [];
  const collect = (chunk: Buffer) => {
    for (const line of chunk.toString().split("\n").filter(Boolean)) {
      output.push(line);
      recordLogLine("standalone-server", line);
    }
  };
  child.stdout!.on("data", collect);
  child.stderr!.on("data", collect);
  const origin = await new Promise<string>((resolve, reject) => {
    const check = () => {
      const listening = output.map((line) => /listening on (http:\/\/\S+)/.exec(line)?.[1]).find(Boolean);
      // The banner is one write: once the curl line (or the last line) is there, all of it is.
      if (listening && output.some((line) => line.startsWith("tollgate: telemetry:"))) resolve(listening);
    };
    child.stdout!.on("data", check);
    child.once("exit", (code) => reject(new Error(`${command} exited with ${code}:\n${output.join("\n")}`)));
  });
  const demoToken = output.map((line) => /Bearer ([\w.-]+)"/.exec(line)?.[1]).find(Boolean);
  return { child, origin, output, demoToken };
}

/** Every process below `pid`, from /proc: the wrappers' children and theirs. */
export function descendants(pid: number): number[] {
  const parents = new Map<number, number[]>();
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = readStat(Number(entry));
    if (!stat) continue;
    const list = parents.get(stat.ppid) ?? [];
    list.push(Number(entry));
    parents.set(stat.ppid, list);
  }
  const found: number[] = [];
  const visit = (parent: number) => {
    for (const child of parents.get(parent) ?? []) {
      found.push(child);
      visit(child);
    }
  };
  visit(pid);
  return found;
}

function readStat(pid: number): { ppid: number; state: string; command: string } | undefined {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, "utf8");
    // `pid (command) state ppid ...`; the command may hold spaces and parentheses.
    const close = text.lastIndexOf(")");
    const [state, ppid] = text.slice(close + 2).split(" ");
    return { ppid: Number(ppid), state: state!, command: text.slice(text.indexOf("(") + 1, close) };
  } catch {
    return undefined;
  }
}

/** A process that exited is gone, or a zombie waiting for whoever adopted it to reap it. */
function alive(pid: number): boolean {
  const stat = readStat(pid);
  return stat !== undefined && stat.state !== "Z";
}

/** Waits until none of `pids` runs, up to `boundMs`; the ones still running then. */
export async function survivors(pids: number[], boundMs: number): Promise<string[]> {
  const until = Date.now() + boundMs;
  for (;;) {
    const left = pids.filter(alive);
    if (left.length === 0 || Date.now() > until) return left.map((pid) => `${pid} ${readStat(pid)?.command ?? "?"}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** Ends whatever a failed test left running. */
export function killLeftovers(): void {
  for (const child of started) {
    const pids = [-child.pid!, child.pid!, ...descendants(child.pid!)];
    for (const pid of pids) {
      try {
        process.kill(pid, "SIGKILL");
      } catch {
        // already gone
      }
    }
  }
  started.clear();
}

/** Asks for a token of `profile` with the user token `bearer`. */
export function askForToken(origin: string, bearer: string, profile: string): Promise<Response> {
  return fetch(`${origin}/api/session-token`, {
    method: "POST",
    headers: { Authorization: `Bearer ${bearer}`, "Content-Type": "application/json" },
    body: JSON.stringify({ profile }),
  });
}
