/**
 * The order files start in (vitest.config.ts `sequence.sequencer`). Vitest's own order runs a group's
 * projects one after another by name, and within a project the longest files first only once its
 * cache knows their durations: on a fresh clone the workspace files, which mostly wait (liveness
 * under chaos up to 100 s), started last and the run ended waiting for them. Here the files known to
 * take long start first, whatever their project; the rest follow in Vitest's order. Groups
 * (`sequence.groupOrder`) are kept.
 */
import { relative } from "node:path";
import { BaseSequencer, type TestSpecification } from "vitest/node";

/** Seconds each file took on a busy 2-core machine (npm test, 2026-12-07): the longest first. */
const EXPECTED_SECONDS: Record<string, number> = {
  "test/node/backfill.test.ts": 80,
  "test/alerts/alerts.test.ts": 70,
  "test/worker/hostile-input.test.ts": 65,
  "test/node/alerts.test.ts": 60,
  "test/workspace/liveness.test.ts": 55,
  "test/reconcile/reconcile.test.ts": 42,
  "test/node/scenario-outage.test.ts": 40,
  "test/worker/providers/conformance.test.ts": 40,
  "test/node/doctor.test.ts": 35,
  "test/node/load.test.ts": 33,
  "test/workspace/workspace.test.ts": 25,
  "test/workspace/waits.test.ts": 25,
  "test/workspace/chaos.test.ts": 18,
};

export class LongestFirst extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const inVitestOrder = await super.sort(files);
    const root = this.ctx.config.root;
    const expected = (spec: TestSpecification) => EXPECTED_SECONDS[relative(root, spec.moduleId)] ?? 0;
    // Array sort is stable: files of equal weight keep Vitest's order.
    return inVitestOrder.sort((a, b) => a.project.config.sequence.groupOrder - b.project.config.sequence.groupOrder || expected(b) - expected(a));
  }
}
