/**
 * `npm run chaos -- --users 1000 --fault-rate 0.3`: the large chaos run, against the bridge under a
 * real `wrangler dev` with real alarms and the real retry schedule (no test shortcuts).
 *
 * Every user lives through created → 1–4 updates → (30 %) deleted, from the documented Clerk and
 * Auth0 examples; every delivery is sent 1–3 times, all shuffled. Meanwhile the orq.ai emulator
 * fails `--fault-rate` of the bridge's calls for these users (500, 502, 503, 429 with
 * Retry-After: 1, a hang past ORQ_TIMEOUT_MS, a dropped connection, in turn). The run ends when
 * orq.ai holds exactly what every user's newest event says (checked again a few seconds later),
 * or after --max-minutes. Prints what it did; exit code 0 only when it converged.
 *
 *   npm run chaos -- [--users 1000] [--fault-rate 0.3] [--seed N] [--concurrency 16]
 *                    [--timeout-ms 2000] [--recover-after SECONDS] [--max-minutes 30]
 *
 * --recover-after S: the faults stop S seconds after the last webhook was sent (an outage that
 * ends); without it they go on at --fault-rate until everything converged.
 */
import type { FaultKind, LoggedRequest } from "../emulator/orq-emulator";
import { matchesExpected, planChaos, type PlannedUser } from "./lib/chaos-plan";
import { parseCommandLine, usageError } from "../cli/lib/args";
import { createPoster, inParallel, loadChaosFixtures, signNow, sleep, startLocalBridge } from "./lib/local-bridge";

const USAGE =
  "Usage: npm run chaos -- [--users 1000] [--fault-rate 0.3] [--seed N] [--concurrency 16] [--timeout-ms 2000] [--max-concurrency 50] [--recover-after SECONDS] [--max-minutes 30]";
const CHAOS_FAULTS: FaultKind[] = [{ status: 500 }, { status: 502 }, { status: 503 }, { status: 429, retryAfter: 1 }, { hang: true }, { drop: true }];
const TAGS = ["chaos"];
const POLL_MS = 1_000;
const STABLE_FOR_MS = 5_000;

const fail = (message: string): never => usageError(USAGE, message);

function numberOption(raw: string | undefined, name: string, fallback: number, min: number, max: number): number {
  if (raw === undefined) return fallback;
  const value = Number(raw);
  if (raw.trim() === "" || !Number.isFinite(value) || value < min || value > max) fail(`--${name} must be a number in ${min}..${max}`);
  return value;
}

function parseCli() {
  const { values } = parseCommandLine(USAGE, {
    args: process.argv.slice(2),
    strict: true,
    options: {
      users: { type: "string" },
      "fault-rate": { type: "string" },
      seed: { type: "string" },
      concurrency: { type: "string" },
      "timeout-ms": { type: "string" },
      "max-concurrency": { type: "string" },
      "recover-after": { type: "string" },
      "max-minutes": { type: "string" },
      help: { type: "boolean", short: "h", default: false },
    },
  });
  return {
    users: Math.round(numberOption(values.users, "users", 1000, 1, 100_000)),
    faultRate: numberOption(values["fault-rate"], "fault-rate", 0.3, 0, 1),
    seed: Math.round(numberOption(values.seed, "seed", Math.floor(Math.random() * 2 ** 31), 0, 2 ** 32 - 1)),
    concurrency: Math.round(numberOption(values.concurrency, "concurrency", 16, 1, 256)),
    timeoutMs: Math.round(numberOption(values["timeout-ms"], "timeout-ms", 2_000, 100, 60_000)),
    maxConcurrency: Math.round(numberOption(values["max-concurrency"], "max-concurrency", 50, 1, 1000)),
    recoverAfterS: values["recover-after"] === undefined ? undefined : numberOption(values["recover-after"], "recover-after", 0, 0, 86_400),
    maxMinutes: numberOption(values["max-minutes"], "max-minutes", 30, 0.1, 24 * 60),
  };
}

const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

function countBy<T>(items: readonly T[], key: (item: T) => string): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const item of items) counts[key(item)] = (counts[key(item)] ?? 0) + 1;
  return counts;
}

function mismatched(users: readonly PlannedUser[], identities: Map<string, unknown>): PlannedUser[] {
  return users.filter((user) => !matchesExpected(identities.get(user.userId) ?? null, user.expected));
}

async function main(): Promise<void> {
  const options = parseCli();
  const runId = `chaos${Date.now().toString(36)}`;
  const plan = planChaos({ users: options.users, seed: options.seed, runId, fixtures: loadChaosFixtures(), tags: TAGS });
  const events = plan.users.reduce((sum, user) => sum + user.events.length, 0);
  const prefixes = Object.values(plan.prefixes);
  const ours = (entry: LoggedRequest) => prefixes.some((prefix) => entry.externalId?.startsWith(prefix));

  console.log(
    `chaos: ${options.users} users, ${events} events, ${plan.deliveries.length} deliveries (1–3 copies each, shuffled), ` +
      `fault rate ${options.faultRate}, ORQ_TIMEOUT_MS ${options.timeoutMs}, seed ${options.seed}, ` +
      `faults ${options.recoverAfterS === undefined ? "until convergence" : `until ${options.recoverAfterS} s after the last send`}`,
  );
  console.log("starting the orq.ai emulator and wrangler dev …");
  const bridge = await startLocalBridge({
    ORQ_TAGS: TAGS.join(","),
    ORQ_TIMEOUT_MS: String(options.timeoutMs),
    ORQ_MAX_CONCURRENCY: String(options.maxConcurrency),
  });
  const poster = createPoster(bridge.bridgeUrl, options.concurrency);
  let converged = false;
  try {
    bridge.emulator.setFaults(prefixes.map((prefix) => ({ externalIdPrefix: prefix, rate: options.faultRate, faults: CHAOS_FAULTS })));
    console.log(`bridge ${bridge.bridgeUrl}, emulator ${bridge.emulator.url}`);

    // ---- send
    const started = Date.now();
    const answers: Record<string, number> = {};
    const failures: string[] = [];
    let sent = 0;
    await inParallel(plan.deliveries, options.concurrency, async (delivery) => {
      const answer = await poster.post(`/webhooks/${delivery.provider}`, signNow(delivery.provider, delivery.body, delivery.eventId), delivery.body);
      let outcome = String(answer.status);
      try {
        const json = JSON.parse(answer.body) as { status?: string; error?: string };
        outcome = `${answer.status} ${json.status ?? json.error}`;
      } catch {
        // not JSON: the status alone
      }
      answers[outcome] = (answers[outcome] ?? 0) + 1;
      if (answer.status < 200 || answer.status > 299) failures.push(`${delivery.provider} ${delivery.eventId}: ${answer.status} ${answer.body.slice(0, 120)}`);
      if (++sent % 1000 === 0) console.log(`  sent ${sent}/${plan.deliveries.length} (${seconds(Date.now() - started)})`);
    });
    const sentAt = Date.now();
    const sendMs = sentAt - started;
    console.log(`sent ${plan.deliveries.length} deliveries in ${seconds(sendMs)} (${Math.round(plan.deliveries.length / (sendMs / 1000))}/s): ${JSON.stringify(answers)}`);
    for (const line of failures.slice(0, 10)) console.log(`  non-2xx: ${line}`);

    // ---- converge
    const deadline = started + options.maxMinutes * 60_000;
    let recovered = false;
    let firstMatchAt: number | undefined;
    let lastReport = 0;
    let remaining = plan.users;
    while (Date.now() < deadline) {
      if (!recovered && options.recoverAfterS !== undefined && Date.now() - sentAt >= options.recoverAfterS * 1000) {
        bridge.emulator.setFaults([]);
        recovered = true;
        console.log(`  ${seconds(Date.now() - sentAt)} after the last send: faults stopped (orq.ai recovers)`);
      }
      const identities = new Map(bridge.emulator.identities().map((identity) => [identity.external_id, identity as unknown]));
      remaining = mismatched(plan.users, identities);
      if (remaining.length === 0) {
        firstMatchAt ??= Date.now();
        if (Date.now() - firstMatchAt >= STABLE_FOR_MS) {
          converged = true;
          break;
        }
      } else {
        firstMatchAt = undefined;
      }
      if (Date.now() - lastReport >= 10_000) {
        lastReport = Date.now();
        const log = bridge.emulator.requests().filter(ours);
        console.log(
          `  ${seconds(Date.now() - sentAt)} after the last send: ${plan.users.length - remaining.length}/${plan.users.length} users match, ` +
            `${log.length} orq calls, ${log.filter((entry) => entry.fault).length} faults`,
        );
      }
      await sleep(POLL_MS);
    }

    // ---- report
    const log = bridge.emulator.requests().filter(ours);
    const faults = log.filter((entry) => entry.fault);
    const callsPerUser = Object.values(countBy(log, (entry) => entry.externalId ?? "")).sort((a, b) => a - b);
    const convergeMs = (firstMatchAt ?? Date.now()) - sentAt;
    console.log("\n── chaos result ─────────────────────────────────────────────");
    console.log(`users                ${plan.users.length} (${plan.users.filter((user) => user.expected === null).length} end deleted)`);
    console.log(`events               ${events} distinct, ${plan.deliveries.length} deliveries sent, ${failures.length} non-2xx answers`);
    console.log(`answers              ${JSON.stringify(answers)}`);
    console.log(`orq calls            ${log.length} (${JSON.stringify(countBy(log, (entry) => entry.method))}); per user: median ${callsPerUser[Math.floor(callsPerUser.length / 2)] ?? 0}, max ${callsPerUser.at(-1) ?? 0}`);
    console.log(`orq calls in flight  at most ${bridge.emulator.stats().maxInFlight} at once (ORQ_MAX_CONCURRENCY ${options.maxConcurrency})`);
    console.log(`faults injected      ${faults.length} (${JSON.stringify(countBy(faults, (entry) => String(entry.status)))})`);
    const slowest = Object.entries(countBy(log, (entry) => entry.externalId ?? "")).sort((a, b) => b[1] - a[1])[0]?.[0];
    if (slowest) {
      const timeline = log.filter((entry) => entry.externalId === slowest).map((entry) => `${seconds(entry.at - started)} ${entry.method} ${entry.status}`);
      console.log(`busiest user         ${slowest}: ${timeline.join(" · ")}`);
    }
    console.log(`time to send         ${seconds(sendMs)}`);
    console.log(
      converged
        ? `time to converge     ${seconds(convergeMs)} after the last send (${seconds(firstMatchAt! - started)} from the first), stable for ${STABLE_FOR_MS / 1000} s`
        : `NOT converged after ${options.maxMinutes} min: ${remaining.length} users differ, e.g. ${remaining.slice(0, 3).map((user) => user.userId).join(", ")}`,
    );
    console.log(`command              npm run chaos -- --users ${options.users} --fault-rate ${options.faultRate} --seed ${options.seed} --concurrency ${options.concurrency} --timeout-ms ${options.timeoutMs} --max-concurrency ${options.maxConcurrency}${options.recoverAfterS === undefined ? "" : ` --recover-after ${options.recoverAfterS}`}`);
  } finally {
    poster.close();
    await bridge.close();
  }
  process.exit(converged ? 0 : 1);
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
