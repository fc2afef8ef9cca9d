/**
 * A DevTools (CDP) session on the Worker's isolate through `wrangler dev`'s inspector proxy, as a
 * developer with DevTools open would have. `npm run load` uses it for two things:
 *
 * - The JS heap after a full GC, at the start and the end of the load: whether the bridge's own
 *   objects grow. (`HeapProfiler.collectGarbage` never answers under workerd; a heap snapshot runs a
 *   full GC first, so one is taken and thrown away.)
 * - Draining: wrangler's InspectorProxyWorker buffers every console and network event of the
 *   Worker until a DevTools client attaches (templates/startDevWorker/InspectorProxyWorker.ts), so
 *   without a client wrangler's own workerd grows with every log line and every fetch. That buffer
 *   exists only under `wrangler dev`; attached, it is handed over and dropped here.
 *
 * Node-only: never import it from src/.
 */
import WebSocket from "ws";

export interface InspectorSession {
  /** JS heap in use right after a full GC, MiB; undefined if the isolate did not answer in time. */
  heapAfterGcMiB(): Promise<number | undefined>;
  /** Events received (and dropped) so far. */
  events(): number;
  close(): void;
}

interface CdpMessage {
  id?: number;
  method?: string;
  result?: { usedSize?: number };
  error?: unknown;
}

export async function attachInspector(port: number, timeoutMs = 10_000): Promise<InspectorSession> {
  const socket = new WebSocket(`ws://127.0.0.1:${port}/ws`, { maxPayload: 1 << 30 });
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`inspector on port ${port} did not answer`)), timeoutMs);
    socket.once("open", () => {
      clearTimeout(timer);
      resolve();
    });
    socket.once("error", (error) => {
      clearTimeout(timer);
      reject(error);
    });
  });
  socket.on("error", () => {}); // a dropped session only ends the measurements

  let nextId = 0;
  let events = 0;
  const pending = new Map<number, (message: CdpMessage) => void>();
  socket.on("message", (data: Buffer) => {
    const message = JSON.parse(data.toString("utf8")) as CdpMessage;
    if (message.id !== undefined) pending.get(message.id)?.(message);
    else events++;
  });

  const call = (method: string, params: object, callTimeoutMs: number) =>
    new Promise<CdpMessage | undefined>((resolve) => {
      const id = ++nextId;
      const timer = setTimeout(() => {
        pending.delete(id);
        resolve(undefined);
      }, callTimeoutMs);
      pending.set(id, (message) => {
        clearTimeout(timer);
        pending.delete(id);
        resolve(message);
      });
      socket.send(JSON.stringify({ id, method, params }));
    });

  return {
    async heapAfterGcMiB() {
      // The snapshot arrives as addHeapSnapshotChunk events, counted and dropped like the rest.
      const snapshot = await call("HeapProfiler.takeHeapSnapshot", { reportProgress: false }, 90_000);
      if (!snapshot || snapshot.error) return undefined;
      const usage = await call("Runtime.getHeapUsage", {}, 10_000);
      const used = usage?.result?.usedSize;
      return used === undefined ? undefined : used / (1024 * 1024);
    },
    events: () => events,
    close: () => socket.close(),
  };
}
