import { DurableObject } from "cloudflare:workers";

/**
 * The cap on concurrent calls to orq.ai, across every identity object of this bridge.
 *
 * Each identity Durable Object already makes at most one call at a time; this object bounds how
 * many of them may do so at once, so that a burst of signups or the backlog released when orq.ai
 * recovers after an outage reaches it as at most `ORQ_MAX_CONCURRENCY` calls in flight, in
 * arrival order, instead of all at once. One named instance holds the leases in memory only: a
 * lease is a permission, not data, and if this object restarts the worst case is a few seconds in
 * which old and new holders together exceed the cap. A holder that vanishes without releasing
 * loses its lease when it expires.
 */
export interface GateRequest {
  /** The cap (`ORQ_MAX_CONCURRENCY`), passed by every caller so the object needs no config of its own. */
  max: number;
  /** How long to queue for a slot before giving up with `busy`. */
  waitMs: number;
  /** How long a lease lives if it is never released (longer than any call sequence). */
  leaseMs: number;
}

export type GateAnswer = { lease: string } | { busy: true; queued: number };

export interface GateStats {
  inFlight: number;
  queued: number;
}

interface Waiter {
  request: GateRequest;
  grant(lease: string): void;
  timer: ReturnType<typeof setTimeout>;
}

/** The name of the one gate instance; tests use other names to get a gate of their own. */
export const ORQ_GATE_NAME = "orq-calls";

export class OrqGate extends DurableObject<Env> {
  /** lease id → expiry time */
  private readonly leases = new Map<string, number>();
  private readonly waiters: Waiter[] = [];
  private expiryTimer?: ReturnType<typeof setTimeout>;

  /** Resolves with a lease once fewer than `max` are held, or with `busy` after `waitMs`. */
  acquire(request: GateRequest): Promise<GateAnswer> {
    return new Promise((resolve) => {
      const waiter: Waiter = {
        request,
        grant: (lease) => resolve({ lease }),
        timer: setTimeout(() => {
          const index = this.waiters.indexOf(waiter);
          if (index >= 0) this.waiters.splice(index, 1);
          resolve({ busy: true, queued: this.waiters.length });
        }, request.waitMs),
      };
      this.waiters.push(waiter);
      this.admitWaiters();
    });
  }

  release(lease: string): void {
    if (this.leases.delete(lease)) this.admitWaiters();
  }

  stats(): GateStats {
    this.dropExpired();
    return { inFlight: this.leases.size, queued: this.waiters.length };
  }

  private grant(request: GateRequest): string {
    const lease = crypto.randomUUID();
    this.leases.set(lease, Date.now() + request.leaseMs);
    return lease;
  }

  /** First come, first served: a waiter is admitted when the cap it asked for has room. */
  private admitWaiters(): void {
    this.dropExpired();
    while (this.waiters.length > 0) {
      const next = this.waiters[0] as Waiter;
      if (this.leases.size >= next.request.max) break;
      this.waiters.shift();
      clearTimeout(next.timer);
      next.grant(this.grant(next.request));
    }
    this.scheduleExpiry();
  }

  private dropExpired(): void {
    const now = Date.now();
    for (const [lease, expiresAt] of this.leases) if (expiresAt <= now) this.leases.delete(lease);
  }

  /** While someone waits, wake up when the oldest lease expires, in case its holder never releases it. */
  private scheduleExpiry(): void {
    clearTimeout(this.expiryTimer);
    this.expiryTimer = undefined;
    if (this.waiters.length === 0 || this.leases.size === 0) return;
    const soonest = Math.min(...this.leases.values());
    this.expiryTimer = setTimeout(() => this.admitWaiters(), Math.max(0, soonest - Date.now()) + 1);
  }
}
