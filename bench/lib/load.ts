/**
 * HTTP load with autocannon: every request is the next one of a pre-signed pool, so each request
 * is a distinct, valid Clerk `user.created` (distinct svix-id and user id) and no signing happens
 * during the timed run. Should the pool run dry (the target was faster than the warm-up
 * suggested), the rest is signed on the fly and counted in `signedDuringRun`.
 */
import autocannon from "autocannon";
import type { ClerkSigner, SignedRequest } from "./signed-clerk";

export interface LoadOptions {
  url: string;
  path: string;
  connections: number;
  /** Seconds; ignored when `amount` is set. */
  durationS?: number;
  /** Stop after exactly this many requests. */
  amount?: number;
  pool: SignedRequest[];
  signer: ClerkSigner;
  /** Prefix for ids signed on the fly. */
  spillPrefix: string;
  /** Called with each response's user id, status and arrival time (Date.now()). */
  onResponse?: (userId: string, status: number, at: number) => void;
}

export interface LoadResult {
  connections: number;
  durationS: number;
  /** 2xx answers per second over the whole run. */
  okPerSecond: number;
  p50Ms: number;
  p99Ms: number;
  ok: number;
  /** Non-2xx answers, connection errors and timeouts. */
  failed: number;
  statuses: Record<string, number>;
  signedDuringRun: number;
}

export async function runLoad(options: LoadOptions): Promise<LoadResult> {
  let next = 0;
  let signedDuringRun = 0;
  const take = (): SignedRequest => {
    const pooled = options.pool[next++];
    if (pooled) return pooled;
    signedDuringRun++;
    return options.signer.sign(`${options.spillPrefix}${next}`);
  };

  const result = await autocannon({
    url: options.url,
    connections: options.connections,
    pipelining: 1,
    timeout: 30,
    ...(options.amount !== undefined ? { amount: options.amount } : { duration: options.durationS ?? 10 }),
    requests: [
      {
        method: "POST",
        path: options.path,
        setupRequest: (request, context) => {
          const signed = take();
          // One request in flight per connection: the context ties the answer to its user.
          context.userId = signed.userId;
          return { ...request, method: "POST", path: options.path, headers: signed.headers, body: signed.body };
        },
        ...(options.onResponse && {
          onResponse: (status: number, _body: string, context: Record<string, unknown>) =>
            options.onResponse!(String(context.userId), status, Date.now()),
        }),
      },
    ],
  });

  const statuses = Object.fromEntries(Object.entries(result.statusCodeStats ?? {}).map(([code, stat]) => [code, Number(stat.count)]));
  const ok = Number(result["2xx"] ?? 0);
  return {
    connections: options.connections,
    durationS: result.duration,
    okPerSecond: ok / result.duration,
    p50Ms: result.latency.p50,
    p99Ms: result.latency.p99,
    ok,
    failed: Number(result.non2xx ?? 0) + Number(result.errors ?? 0),
    statuses,
    signedDuringRun,
  };
}
