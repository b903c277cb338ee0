import { spawn, type ChildProcess } from "node:child_process";
import { recordLogLine } from "./traffic.ts";

export interface StandaloneServer {
  origin: string;
  output: string[];
  child: ChildProcess;
  stop(): Promise<void>;
}

/**
 * The standalone server (`server/main.ts`) in a child process on a free loopback port, configured
 * by `env` on top of a bare environment, its every line recorded for the run-wide leak check.
 */
export async function standaloneServer(name: string, env: Record<string, string>): Promise<StandaloneServer> {
  const child = spawn(process.execPath, ["--import", "tsx", "server/main.ts"], {
    env: { PATH: process.env.PATH, PORT: "0", HOST: "127.0.0.1", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const output: string[] = [];
  const origin = await new Promise<string>((resolve, reject) => {
    const collect = (chunk: Buffer) => {
      for (const line of chunk.toString().split("\n").filter(Boolean)) {
        output.push(line);
        recordLogLine(name, line);
        const listening = /listening on (http:\/\/\S+)/.exec(line)?.[1];
        if (listening) resolve(listening.replace("localhost", "127.0.0.1"));
      }
    };
    child.stdout!.on("data", collect);
    child.stderr!.on("data", collect);
    child.on("exit", (code) => reject(new Error(`${name} exited with ${code}: ${output.join("\n")}`)));
  });
  const stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    await new Promise((resolve) => {
      child.once("exit", resolve);
      child.kill("SIGTERM");
    });
  };
  return { origin, output, child, stop };
}
