import { createServer, type AddressInfo } from "node:net";

/** A loopback port nobody holds right now, for a child process or server that must be told its port. */
export async function sparePort(): Promise<number> {
  const probe = createServer();
  await new Promise<void>((resolve, reject) => {
    probe.once("error", reject);
    probe.listen(0, "127.0.0.1", resolve);
  });
  const { port } = probe.address() as AddressInfo;
  await new Promise((resolve) => probe.close(resolve));
  return port;
}
