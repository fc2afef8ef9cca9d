import { DurableObject } from "cloudflare:workers";

/**
 * The cap on concurrent calls to orq.ai, across every identity object of this bridge.
 *
 * Each identity Durable Object already makes at most one call at a time; this object bounds how
 * many of them may do so at once, so that a burst of signups, or the backlog released when orq.ai
 * recovers after an outage, reaches orq.ai as at most `ORQ_MAX_CONCURRENCY` calls in flight.
 *
 * Nobody waits here: a delivery that finds every slot taken is told when to come back, estimated
 * from how long slots are held and how many others were already sent away, and sleeps until then
 * (its alarm), so a long backlog costs stored rows, not live objects holding open requests.
 * Admission is therefore not strictly first come, first served; the estimate spreads returns out.
 *
 * One named instance holds the leases in memory only: a lease is a permission, not data, and if
 * this object restarts the worst case is one lease lifetime in which old and new holders together
 * exceed the cap. A holder that vanishes without releasing loses its lease when it expires.
 */
export interface GateRequest {
  /** The cap (`ORQ_MAX_CONCURRENCY`), passed by every caller so the object needs no config of its own. */
  max: number;
  /** How long a lease lives if it is never released (longer than any call sequence). */
  leaseMs: number;
}

export type GateAnswer = { lease: string } | { busy: true; retryInMs: number };

export interface GateStats {
  inFlight: number;
  /** Deliveries sent away that have not come back yet (their estimated return is still ahead). */
  queued: number;
}

/** The name of the one gate instance; tests use other names to get a gate of their own. */
export const ORQ_GATE_NAME = "orq-calls";

const MIN_RETRY_MS = 250;
const MAX_RETRY_MS = 60_000;

export class OrqGate extends DurableObject<Env> {
  /** lease id → when it was granted and when it expires */
  private readonly leases = new Map<string, { grantedAt: number; expiresAt: number }>();
  /** When each delivery sent away was told to come back; pruned as those times pass. */
  private returns: number[] = [];
  /** How long a lease is held, smoothed over recent releases (a first guess until then). */
  private holdMs = 200;

  acquire(request: GateRequest): GateAnswer {
    const now = Date.now();
    this.prune(now);
    if (this.leases.size < request.max) {
      const lease = crypto.randomUUID();
      this.leases.set(lease, { grantedAt: now, expiresAt: now + request.leaseMs });
      return { lease };
    }
    // Everyone already waiting goes first, `max` at a time, one hold each; jitter spreads returns.
    const rounds = 1 + this.returns.length / request.max;
    const estimate = this.holdMs * rounds * (0.75 + Math.random() / 2);
    const retryInMs = Math.round(Math.min(MAX_RETRY_MS, Math.max(MIN_RETRY_MS, estimate)));
    this.returns.push(now + retryInMs);
    return { busy: true, retryInMs };
  }

  release(lease: string): void {
    const held = this.leases.get(lease);
    if (!held) return;
    this.leases.delete(lease);
    this.holdMs = 0.8 * this.holdMs + 0.2 * (Date.now() - held.grantedAt);
  }

  stats(): GateStats {
    this.prune(Date.now());
    return { inFlight: this.leases.size, queued: this.returns.length };
  }

  private prune(now: number): void {
    for (const [lease, { expiresAt }] of this.leases) if (expiresAt <= now) this.leases.delete(lease);
    if (this.returns.length > 0) this.returns = this.returns.filter((at) => at > now);
  }
}
