/**
 * The plan of a chaos run: many users living through created → several updated → (sometimes)
 * deleted, built from the providers' documented example payloads, each event at its own time, then
 * every delivery repeated one to three times and the whole lot shuffled — the way webhook senders
 * retry and reorder. It also says what orq.ai must hold at the end: the newest event's data for
 * every user, or nothing for a deleted one.
 *
 * Pure (no Node and no Worker APIs): test/workspace/chaos.test.ts runs it inside workerd and
 * tools/chaos.ts runs it in Node. Fixtures are passed in, so each side loads them its own way.
 * Signing happens at send time (Svix timestamps must be fresh), so deliveries carry bodies only.
 */

// biome-ignore lint: provider payloads are free-form JSON
export type Json = any;

export const CHAOS_PROVIDERS = ["clerk", "auth0"] as const;
export type ChaosProvider = (typeof CHAOS_PROVIDERS)[number];
export type LifecycleEvent = "user.created" | "user.updated" | "user.deleted";
export type ChaosFixtures = Record<ChaosProvider, Record<LifecycleEvent, Json>>;

/** What orq.ai must hold for a user (the fields the bridge writes). */
export interface ExpectedIdentity {
  external_id: string;
  display_name: string;
  email: string;
  avatar_url: string;
  tags: string[];
  metadata: Record<string, unknown>;
}

export interface PlannedDelivery {
  provider: ChaosProvider;
  userId: string;
  event: LifecycleEvent;
  /** The provider's idempotency key: the svix-id (Clerk) or the CloudEvent id (Auth0). Repeats share it. */
  eventId: string;
  /** When the change happened at the provider, epoch ms; distinct for every event of a run. */
  at: number;
  /** The exact JSON the provider sends; repeats send the same bytes. */
  body: string;
}

export interface PlannedUser {
  provider: ChaosProvider;
  userId: string;
  events: PlannedDelivery[];
  /** Null when the newest event deleted the user. */
  expected: ExpectedIdentity | null;
}

export interface ChaosPlan {
  users: PlannedUser[];
  /** Every event one to three times, shuffled across all users. */
  deliveries: PlannedDelivery[];
  /** External-id prefixes that cover exactly this run's users (for emulator fault rules), one per provider. */
  prefixes: Record<ChaosProvider, string>;
}

export interface ChaosPlanOptions {
  users: number;
  /** Makes the plan (profiles, lifecycles, repeats, order) reproducible. */
  seed: number;
  /** Unique per run: part of every user id, so runs never share an identity. */
  runId: string;
  fixtures: ChaosFixtures;
  /** The bridge's ORQ_TAGS, which follow the provider's name in every identity's tags. */
  tags: readonly string[];
  /** Time of the first event, epoch ms; default 2026-01-01. */
  start?: number;
  /** Share of users whose last event deletes them; default 0.3. */
  deleteShare?: number;
  /** Updates per user are 1..maxUpdates; default 4. */
  maxUpdates?: number;
  /** Every delivery is sent 1..maxCopies times; default 3. */
  maxCopies?: number;
}

/** mulberry32: a tiny seeded generator, so a failing run can be replayed from its seed. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function shuffle<T>(items: T[], random: () => number): T[] {
  for (let i = items.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [items[i], items[j]] = [items[j]!, items[i]!];
  }
  return items;
}

export interface Profile {
  firstName: string;
  lastName: string;
  email: string;
  avatarUrl: string;
}

const EVENT_SPACING_MS = 1_000;

export function planChaos(options: ChaosPlanOptions): ChaosPlan {
  const random = seededRandom(options.seed);
  const start = options.start ?? Date.parse("2026-01-01T00:00:00Z");
  const deleteShare = options.deleteShare ?? 0.3;
  const maxUpdates = options.maxUpdates ?? 4;
  const maxCopies = options.maxCopies ?? 3;
  const prefixes: Record<ChaosProvider, string> = { clerk: `user_${options.runId}_`, auth0: `auth0|${options.runId}_` };

  const users: PlannedUser[] = [];
  for (let index = 0; index < options.users; index++) {
    const provider = CHAOS_PROVIDERS[index % CHAOS_PROVIDERS.length]!;
    const userId = `${prefixes[provider]}${index}`;
    // Each user's events are EVENT_SPACING_MS apart; users are offset by 1 ms so runs interleave.
    const createdAt = start + index;
    const steps: LifecycleEvent[] = ["user.created"];
    const updates = 1 + Math.floor(random() * maxUpdates);
    for (let u = 0; u < updates; u++) steps.push("user.updated");
    if (random() < deleteShare) steps.push("user.deleted");

    let latest: Profile | null = null;
    const events = steps.map((event, step) => {
      const at = createdAt + step * EVENT_SPACING_MS;
      const profile = event === "user.deleted" ? null : profileFor(index, step, random);
      latest = profile;
      const eventId = `${provider === "clerk" ? "msg" : "evt"}_${options.runId}_${index}_${step}`;
      const payload = buildPayload(options.fixtures, provider, event, { userId, eventId, at, createdAt, profile });
      return { provider, userId, event, eventId, at, body: JSON.stringify(payload) } satisfies PlannedDelivery;
    });
    const final = latest as Profile | null;
    users.push({ provider, userId, events, expected: final && expectedIdentity(provider, userId, createdAt, final, options.tags) });
  }

  const deliveries: PlannedDelivery[] = [];
  for (const user of users) {
    for (const event of user.events) {
      const copies = 1 + Math.floor(random() * maxCopies);
      for (let copy = 0; copy < copies; copy++) deliveries.push(event);
    }
  }
  return { users, deliveries: shuffle(deliveries, random), prefixes };
}

/** What the bridge must write for a user whose newest event carried `profile` (docs/mapping.md). */
export function expectedIdentity(provider: ChaosProvider, userId: string, createdAt: number, profile: Profile, tags: readonly string[]): ExpectedIdentity {
  return {
    external_id: userId,
    display_name: `${profile.firstName} ${profile.lastName}`,
    email: profile.email,
    avatar_url: profile.avatarUrl,
    tags: [...new Set([provider, ...tags])],
    metadata: { provider, provider_created_at: new Date(createdAt).toISOString() },
  };
}

/** Every event changes every field the bridge writes, so a stale value cannot hide. */
export function profileFor(index: number, step: number, random: () => number): Profile {
  const tag = Math.floor(random() * 1e9).toString(36);
  return {
    firstName: `First${step}${tag}`,
    lastName: `Last${index}`,
    email: `user${index}.v${step}.${tag}@chaos.example`,
    avatarUrl: `https://img.chaos.example/${index}/${step}/${tag}.png`,
  };
}

export interface EventFacts {
  userId: string;
  eventId: string;
  at: number;
  createdAt: number;
  profile: Profile | null;
}

/** The provider's documented example of `event`, made into this user's event at `facts.at`. */
export function buildPayload(fixtures: ChaosFixtures, provider: ChaosProvider, event: LifecycleEvent, facts: EventFacts): Json {
  const payload = structuredClone(fixtures[provider][event]);
  return provider === "clerk" ? asClerk(payload, facts) : asAuth0(payload, facts);
}

/** Clerk orders by max(timestamp, data.updated_at); a deletion by its timestamp. Times in ms. */
function asClerk(payload: Json, { userId, at, createdAt, profile }: EventFacts): Json {
  payload.timestamp = at;
  payload.data.id = userId;
  if (profile) {
    payload.data.first_name = profile.firstName;
    payload.data.last_name = profile.lastName;
    payload.data.image_url = profile.avatarUrl;
    payload.data.primary_email_address_id = `idn_${userId}`;
    payload.data.email_addresses = [{ id: `idn_${userId}`, object: "email_address", email_address: profile.email }];
    payload.data.created_at = createdAt;
    payload.data.updated_at = at;
  }
  return payload;
}

/** Auth0 orders by max(time, updated_at | deleted_at); the CloudEvent id is the idempotency key. */
function asAuth0(payload: Json, { userId, eventId, at, createdAt, profile }: EventFacts): Json {
  const iso = new Date(at).toISOString();
  const user = payload.data.object;
  payload.id = eventId;
  payload.time = iso;
  user.user_id = userId;
  user.created_at = new Date(createdAt).toISOString();
  user.updated_at = iso;
  if (payload.data.previous_object) payload.data.previous_object.user_id = userId;
  if (profile) {
    user.given_name = profile.firstName;
    user.family_name = profile.lastName;
    user.email = profile.email;
    user.picture = profile.avatarUrl;
  } else {
    user.deleted_at = iso;
  }
  return payload;
}

/** The fields of an orq identity the bridge writes, to compare with ExpectedIdentity. */
export function writtenFields(identity: Json): Partial<ExpectedIdentity> | null {
  if (!identity) return null;
  const { external_id, display_name, email, avatar_url, tags, metadata } = identity;
  return { external_id, display_name, email, avatar_url, tags, metadata };
}

/** True when orq.ai holds exactly what the user's newest event says (key order aside). */
export function matchesExpected(identity: Json, expected: ExpectedIdentity | null): boolean {
  return canonicalJson(writtenFields(identity)) === canonicalJson(expected);
}

function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_key, inner: unknown) =>
    inner && typeof inner === "object" && !Array.isArray(inner)
      ? Object.fromEntries(Object.entries(inner as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
      : inner,
  );
}
