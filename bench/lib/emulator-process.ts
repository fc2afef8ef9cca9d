/**
 * The orq.ai emulator in its own process, for `npm run bench`: the load generator must not share an
 * event loop with it (a busy autocannon would delay the emulator's answers and its timestamps).
 *
 * In front of it sits a small forwarding proxy whose added latency on `/v2/…` (the API, not the
 * control API) can be set at run time with `PUT /__bench/latency/<ms>`: the local emulator answers
 * in well under a millisecond, the real orq.ai does not, and a route that calls orq.ai before
 * answering (the peer) is bound by that latency while the bridge is not. Default 0.
 *
 * Prints one JSON line `{"url": …}` (the proxy) when listening; exits when its parent closes stdin
 * (so it never outlives a crashed benchmark) or on SIGTERM. Request-log times (`at`, Date.now())
 * share the parent's clock: same machine, same wall clock.
 */
import { Agent, createServer, request } from "node:http";
import type { AddressInfo } from "node:net";
import { startOrqEmulator } from "../../emulator/orq-emulator";

const emulator = await startOrqEmulator({ quiet: true });
const target = new URL(emulator.url);
const agent = new Agent({ keepAlive: true, maxSockets: 256 });
let latencyMs = 0;

const proxy = createServer((incoming, outgoing) => {
  const path = incoming.url ?? "/";
  const setLatency = /^\/__bench\/latency\/(\d+)$/.exec(path);
  if (setLatency && incoming.method === "PUT") {
    latencyMs = Number(setLatency[1]);
    outgoing.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ latencyMs }));
    return;
  }
  const forward = () => {
    const upstream = request(
      { host: target.hostname, port: target.port, method: incoming.method, path, headers: incoming.headers, agent },
      (answer) => {
        outgoing.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(outgoing);
      },
    );
    upstream.on("error", () => {
      if (!outgoing.headersSent) outgoing.writeHead(502);
      outgoing.end();
    });
    incoming.pipe(upstream);
  };
  if (latencyMs > 0 && path.startsWith("/v2")) setTimeout(forward, latencyMs);
  else forward();
});
await new Promise<void>((resolve) => proxy.listen(0, "127.0.0.1", resolve));
console.log(JSON.stringify({ url: `http://127.0.0.1:${(proxy.address() as AddressInfo).port}` }));

const stop = () => {
  proxy.closeAllConnections();
  proxy.close();
  void emulator.close().finally(() => process.exit(0));
};
process.stdin.on("end", stop);
process.stdin.on("close", stop);
process.stdin.resume();
process.on("SIGTERM", stop);
