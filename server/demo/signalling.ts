import type { AddressInfo } from "node:net";

/**
 * The signalling socket of an emulated Anam engine, for the demo and the browser tests: the Anam
 * SDK opens `ws://{engineHost}{signallingEndpoint}?session_id=...` after it redeems its token, sends
 * its WebRTC offer there, and emits `SESSION_READY` when the socket sends `sessionready`. No media
 * flow: the SDK reaches SESSION_READY on the signalling message alone (StreamingClient's signal
 * handler), so no WebRTC answer is sent. Built on the `ws` package, which serves on Node, Bun
 * and Deno alike; where it cannot start, the demo's session start answers 503 and says why.
 */
export interface SignallingServer {
  /** `host:port`, as `engineHost` names it. */
  readonly host: string;
  /** Sessions whose socket is open now. */
  readonly open: number;
  close(): Promise<void>;
}

export async function startSignalling(hostname = "127.0.0.1"): Promise<SignallingServer> {
  const { WebSocketServer } = await import("ws");
  const server = new WebSocketServer({ host: hostname, port: 0 });
  await new Promise<void>((resolve, reject) => {
    server.once("listening", resolve);
    server.once("error", reject);
  });
  let open = 0;
  server.on("connection", (socket, request) => {
    const sessionId = new URL(request.url ?? "/", "ws://engine").searchParams.get("session_id") ?? "";
    open++;
    socket.on("close", () => open--);
    socket.on("message", (data) => {
      let message: { actionType?: unknown };
      try {
        message = JSON.parse(String(data)) as typeof message;
      } catch {
        return;
      }
      // The SDK makes its peer connection before it sends the offer, and needs one to take `sessionready`.
      if (message.actionType === "offer") socket.send(JSON.stringify({ actionType: "sessionready", sessionId, payload: null }));
    });
  });
  const { port } = server.address() as AddressInfo;
  return {
    host: `${hostname}:${port}`,
    get open() {
      return open;
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const client of server.clients) client.terminate();
        server.close(() => resolve());
      }),
  };
}
